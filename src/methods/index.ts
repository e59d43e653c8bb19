import type { CamMethod } from './types.js';
import { gradCam } from './gradcam.js';
import { gradCamPlusPlus } from './gradcam-plusplus.js';
import { xGradCam } from './xgradcam.js';
import { hiResCam } from './hirescam.js';
import { layerCam } from './layercam.js';
import { eigenCam } from './eigencam.js';
import { eigenGradCam } from './eigengradcam.js';
import { gradCamElementWise } from './gradcam-elementwise.js';
import { kpcaCam } from './kpcacam.js';
import { fem } from './fem.js';
import { ablationCam } from './ablationcam.js';
import { scoreCam } from './scorecam.js';
import { fullGrad } from './fullgrad.js';

export type { CamMethod, LayerArrays, RerunContext, WholeModelArrays } from './types.js';

/** Every built-in method by name; a method is one small file with its weighting rule. */
export const CAM_METHODS = Object.freeze({
  gradcam: gradCam,
  'gradcam++': gradCamPlusPlus,
  xgradcam: xGradCam,
  hirescam: hiResCam,
  layercam: layerCam,
  eigencam: eigenCam,
  eigengradcam: eigenGradCam,
  gradcamelementwise: gradCamElementWise,
  kpcacam: kpcaCam,
  fem,
  ablationcam: ablationCam,
  scorecam: scoreCam,
  fullgrad: fullGrad,
} satisfies Record<string, CamMethod>);

export type CamMethodName = keyof typeof CAM_METHODS;
