// Loads the kubeconfig through @kubernetes/client-node, so contexts, exec credential plugins,
// auth-provider tokens, client certificates and CA bundles work as they do for kubectl; nothing
// here parses kubeconfig by hand. Only the choice of file and context, and the errors, are ours.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubernetesError, errorMessage } from '../errors.js';

export interface KubeConfigChoice {
  /** --kubeconfig; default $KUBECONFIG (a path list, merged like kubectl), then ~/.kube/config. */
  file?: string;
  /** --context; default the file's current-context. */
  context?: string;
}

export interface LoadedKubeConfig {
  kc: KubeConfig;
  context: string;
  /** The API server URL of the chosen context, for messages. */
  server: string;
}

export function loadKubeConfig(choice: KubeConfigChoice, env: NodeJS.ProcessEnv = process.env): LoadedKubeConfig {
  const kc = new KubeConfig();
  try {
    if (choice.file !== undefined) {
      if (!existsSync(choice.file)) throw new KubernetesError(`kubeconfig ${choice.file} does not exist; check --kubeconfig`);
      kc.loadFromFile(choice.file);
    } else {
      // loadFromDefault falls back to a made-up http://localhost:8080 cluster when it finds nothing;
      // that would surface as a confusing "connection refused", so say what is missing instead.
      const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
      const candidates = listed.length ? listed : [join(homedir(), '.kube', 'config')];
      const inCluster = env.KUBERNETES_SERVICE_HOST !== undefined;
      if (!inCluster && !candidates.some((f) => existsSync(f))) {
        throw new KubernetesError(`no kubeconfig found (${listed.length ? '$KUBECONFIG' : '~/.kube/config'}); pass --kubeconfig FILE`);
      }
      kc.loadFromDefault();
    }
  } catch (err) {
    if (err instanceof KubernetesError) throw err;
    // client-node's messages name the file and the bad field; they carry no secrets.
    throw new KubernetesError(`cannot read kubeconfig${choice.file !== undefined ? ` ${choice.file}` : ''}: ${oneLine(errorMessage(err)).slice(0, 300)}`, { cause: err });
  }
  const names = kc.getContexts().map((c) => c.name);
  const context = choice.context ?? kc.getCurrentContext();
  if (!context) {
    throw new KubernetesError(`the kubeconfig has no current-context; pass --context (one of: ${names.join(', ') || 'none defined'})`);
  }
  if (!names.includes(context)) {
    throw new KubernetesError(`context "${context}" is not in the kubeconfig; use one of: ${names.join(', ') || 'none defined'}`);
  }
  kc.setCurrentContext(context);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new KubernetesError(`context "${context}" names no cluster with a server; check the kubeconfig`);
  return { kc, context, server };
}

export function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
