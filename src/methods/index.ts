import type { CamMethod } from './types.js';
import { gradCam } from './gradcam.js';
import { gradCamPlusPlus } from './gradcam-plusplus.js';
import { xGradCam } from './xgradcam.js';
import { hiResCam } from './hirescam.js';
import { layerCam } from './layercam.js';
import { eigenCam } from './eigencam.js';

export type { CamMethod, LayerArrays } from './types.js';

/** Every built-in method by name; a method is one small file with its weighting rule. */
export const CAM_METHODS = Object.freeze({
  gradcam: gradCam,
  'gradcam++': gradCamPlusPlus,
  xgradcam: xGradCam,
  hirescam: hiResCam,
  layercam: layerCam,
  eigencam: eigenCam,
} satisfies Record<string, CamMethod>);

export type CamMethodName = keyof typeof CAM_METHODS;
