/**
 * Generation in the worker pads sequences to multiples of this length (GenerateOptions.lengthBucket),
 * so every new token reuses the GPU programs compiled for its bucket.
 */
export const LENGTH_BUCKET = 16;
