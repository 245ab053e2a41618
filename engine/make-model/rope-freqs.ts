// llama3 rope scaling expressed the way llama.cpp stores it in GGUF files: one divisor per rotated
// frequency (the rope_freqs.weight tensor), computed as Meta's reference and HF's llama3 rope init do.
import type { RopeScaling } from '../model-spec.js';

export function llama3FrequencyDivisors(ropeDim: number, ropeTheta: number, scaling: RopeScaling): Float32Array {
  const divisors = new Float32Array(ropeDim / 2);
  const lowFreqWavelength = scaling.originalMaxPosition / scaling.lowFreqFactor;
  const highFreqWavelength = scaling.originalMaxPosition / scaling.highFreqFactor;
  for (let i = 0; i < divisors.length; i++) {
    const frequency = Math.pow(ropeTheta, (-2 * i) / ropeDim);
    const wavelength = (2 * Math.PI) / frequency;
    if (wavelength < highFreqWavelength) {
      divisors[i] = 1;
    } else if (wavelength > lowFreqWavelength) {
      divisors[i] = scaling.factor;
    } else {
      const smooth = (scaling.originalMaxPosition / wavelength - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor);
      divisors[i] = 1 / ((1 - smooth) / scaling.factor + smooth);
    }
  }
  return divisors;
}
