// quay.io itself; a self-hosted Quay is told by `type: quay` in its registry entry. Pure: no I/O.
export function isQuayIo(host: string): boolean {
  return host.toLowerCase() === 'quay.io';
}
