type Arr = ArrayLike<number>;
export declare function maxAbsDiff(a: Arr, b: Arr): number;
export declare function meanAbsDiff(a: Arr, b: Arr): number;
export declare function maxAbs(a: Arr): number;
/** ||a - ref|| / ||ref||. */
export declare function relL2(a: Arr, ref: Arr): number;
export declare function pearson(a: Arr, b: Arr): number;
/** The index of the first largest value. */
export declare function argmax(a: Arr): number;
/** Element-wise product of a map [P] with an HWC array [P,3], as float32. */
export declare function timesMap(hwc: Arr, map: Arr): Float32Array;
