// A model path must name a regular file or a directory. A FIFO, a socket or a device such as /dev/zero
// blocks or streams forever once opened, so it is refused by its kind (fs.stat, which never blocks)
// before anything opens it.
import type { Stats } from 'node:fs';
import { InvalidArgumentError } from './errors.js';

export function assertFileOrDirectory(path: string, stats: Stats): void {
  if (stats.isFile() || stats.isDirectory()) return;
  throw new InvalidArgumentError(
    `${path} is not a regular file or directory (it is a ${specialKind(stats)}): a model is a .gguf file or an HF model directory`,
  );
}

function specialKind(stats: Stats): string {
  if (stats.isFIFO()) return 'FIFO (named pipe)';
  if (stats.isSocket()) return 'socket';
  if (stats.isCharacterDevice()) return 'character device';
  if (stats.isBlockDevice()) return 'block device';
  return 'special file';
}
