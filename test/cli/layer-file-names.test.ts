import { describe, expect, it } from 'vitest';
import { layerFileNames } from '../../src/cli/explain.js';

describe('layer names in CLI file names', () => {
  it('keeps [A-Za-z0-9._-], replaces the rest with _, and never lets two layers share a file', () => {
    const names = layerFileNames(['layer4', 'features.denseblock3', '/features/norm5/BatchNormalization_output_0', 'a b', 'a_b', 'a:b', 'ünï']);
    expect([...names.values()]).toEqual(['layer4', 'features.denseblock3', '_features_norm5_BatchNormalization_output_0', 'a_b', 'a_b-2', 'a_b-3', '_n_']);
  });
});
