// Which hosts are Amazon ECR private registries. Pure: no I/O.
// <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn] (AWS "Private registry concepts").
const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

export function ecrHost(host: string): { account: string; region: string } | undefined {
  const m = ECR_HOST.exec(host.toLowerCase().replace(/:443$/, ''));
  return m ? { account: m[1]!, region: m[2]! } : undefined;
}
