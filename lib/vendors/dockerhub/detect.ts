// Docker Hub's registry hosts: references name it `docker.io`; the registry answers on
// registry-1.docker.io; old configs say index.docker.io. Pure: no I/O.
const DOCKER_HUB = new Set(['docker.io', 'registry-1.docker.io', 'index.docker.io']);

export function isDockerHub(host: string): boolean {
  return DOCKER_HUB.has(host.toLowerCase());
}
