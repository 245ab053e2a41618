// Progress of writing a model, for the CLI's progress display on the big shapes.
export interface MakeModelProgress {
  writtenBytes: number;
  totalBytes: number;
  /** The tensor just finished (GGUF naming). */
  tensor: string;
}

export type ProgressCallback = (progress: MakeModelProgress) => void;

/** Wraps tensor chunk producers so that `onProgress` hears about each finished tensor. */
export function progressTracker(totalBytes: number, onProgress?: ProgressCallback) {
  let writtenBytes = 0;
  return function* track(tensor: string, chunks: Iterable<Uint8Array>): Generator<Uint8Array> {
    for (const chunk of chunks) {
      yield chunk;
      writtenBytes += chunk.byteLength;
    }
    onProgress?.({ writtenBytes, totalBytes, tensor });
  };
}
