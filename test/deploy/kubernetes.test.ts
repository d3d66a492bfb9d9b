// deploy/kubernetes: every object passes the Kubernetes schema (the OpenAPI-generated models of
// the Kubernetes Python client), and the fields that make the service work are right and agree
// with each other: probes and the server's routes, the grace period and the drain, the HPA and
// the adapter rule and the scrape labels.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEPLOY, python, readYaml, yamlDoc, type YamlReport } from './support.js';

const DIR = resolve(DEPLOY, 'kubernetes');
const manifestFiles = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(DIR, f));

if (python === undefined) {
  console.warn('no python3 with PyYAML: the Kubernetes manifest checks are skipped (apt-get install python3-yaml python3-kubernetes)');
} else if (!python.kubernetes) {
  console.warn('python3-kubernetes not installed: the manifests are checked field by field but not against the Kubernetes schema');
}

// Only the fields the assertions read; the schema check covers the rest.
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { runAsNonRoot?: boolean; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
  data?: Record<string, string>;
}
interface Deployment extends K8sObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds?: number;
        securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
        containers: Container[];
        volumes?: { name: string; emptyDir?: object }[];
      };
    };
  };
}
interface Hpa extends K8sObject {
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicas: number;
    maxReplicas: number;
    metrics: { type: string; pods?: { metric: { name: string }; target: { type: string; averageValue?: string } } }[];
  };
}
interface AdapterRule {
  seriesQuery: string;
  resources: { overrides: Record<string, { resource: string }> };
  name: { matches: string; as: string };
  metricsQuery: string;
}

function objects(report: YamlReport): K8sObject[] {
  return report.documents.map((d) => d.doc as K8sObject);
}

describe.runIf(python !== undefined)('deploy/kubernetes', () => {
  const report = python === undefined ? { documents: [], schema: null, errors: [] } : readYaml(...manifestFiles);
  const all = objects(report);
  /** The one object of `kind` (named `name`; default: chatbox's own). */
  const one = <T extends K8sObject>(kind: string, name = kind === 'ConfigMap' || kind === 'Kustomization' ? undefined : 'chatbox'): T => {
    const found = all.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
    expect(found.length, `${kind} ${name ?? ''}`).toBe(1);
    return found[0] as T;
  };

  it.runIf(python?.kubernetes === true)('every object passes the Kubernetes schema (unknown fields, types, required fields)', () => {
    console.info(`manifests checked against: ${report.schema}`);
    expect(report.schema).toMatch(/kubernetes python client/);
    expect(report.errors).toEqual([]);
    expect(all.map((o) => o.kind).sort()).toEqual([
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'Kustomization',
      'PodDisruptionBudget',
      'Service',
      'Service',
      'StatefulSet',
    ]);
  });

  it.runIf(python?.kubernetes === true)('the schema check rejects a broken manifest (it can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chatbox-k8s-'));
    try {
      const broken = readFileSync(join(DIR, 'deployment.yaml'), 'utf8')
        .replace('terminationGracePeriodSeconds: 30', 'terminationGracePeriodSecond: 30')
        .replace('readOnlyRootFilesystem: true', "readOnlyRootFilesystem: 'yes'");
      writeFileSync(join(dir, 'deployment.yaml'), broken);
      const errors = readYaml(join(dir, 'deployment.yaml')).errors.join('\n');
      expect(errors).toContain('unknown field "terminationGracePeriodSecond"');
      expect(errors).toContain('readOnlyRootFilesystem: expected bool');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Deployment: probes on {prefix}/healthz and {prefix}/readyz, on the port the server listens on', () => {
    const d = one<Deployment>('Deployment');
    const c = d.spec.template.spec.containers[0] as Container;
    const env = new Map((c.env ?? []).map((e) => [e.name, e]));
    const prefix = env.get('PATH_PREFIX')?.value ?? '/chatbox';
    expect(prefix).toBe('/chatbox');
    expect(c.livenessProbe?.httpGet?.path).toBe(`${prefix}/healthz`);
    expect(c.startupProbe?.httpGet?.path).toBe(`${prefix}/healthz`);
    expect(c.readinessProbe?.httpGet?.path).toBe(`${prefix}/readyz`);
    const port = c.ports?.find((p) => p.name === 'http');
    expect(port?.containerPort).toBe(Number(env.get('PORT')?.value ?? 8080));
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) expect(probe?.httpGet?.port).toBe('http');
  });

  it('Deployment: the kubelet waits longer than the preStop pause plus the shutdown drain', () => {
    const d = one<Deployment>('Deployment');
    const c = d.spec.template.spec.containers[0] as Container;
    const drain = Number(c.env?.find((e) => e.name === 'SHUTDOWN_GRACE_S')?.value ?? 10);
    const preStop = c.lifecycle?.preStop?.exec?.command;
    const pause = preStop?.[0] === 'sleep' ? Number(preStop[1]) : 0;
    const grace = d.spec.template.spec.terminationGracePeriodSeconds ?? 30;
    expect(drain).toBe(10);
    expect(grace).toBeGreaterThan(pause + drain);
  });

  it('Deployment: non-root, read-only root filesystem, writable DATA_DIR and /tmp, resources, secrets', () => {
    const d = one<Deployment>('Deployment');
    const pod = d.spec.template.spec;
    const c = pod.containers[0] as Container;
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(c.securityContext?.runAsNonRoot).toBe(true);
    expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(c.securityContext?.capabilities?.drop).toEqual(['ALL']);
    const env = new Map((c.env ?? []).map((e) => [e.name, e]));
    expect(env.get('NODE_ENV')?.value).toBe('production');
    const dataDir = env.get('DATA_DIR')?.value as string;
    const mounts = new Map((c.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
    for (const path of [dataDir, '/tmp']) {
      const volume = pod.volumes?.find((v) => v.name === mounts.get(path));
      expect(volume?.emptyDir, path).toBeDefined();
    }
    for (const r of ['cpu', 'memory']) expect(c.resources?.requests?.[r], r).toBeTruthy();
    expect(c.resources?.limits?.memory).toBeTruthy();
    // Secrets come from a Secret, never from the manifest; JWT_SECRET and DATABASE_URL are required.
    for (const name of ['JWT_SECRET', 'DATABASE_URL']) {
      expect(env.get(name)?.valueFrom?.secretKeyRef?.name, name).toBe('chatbox');
      expect(env.get(name)?.valueFrom?.secretKeyRef?.optional, name).toBeUndefined();
    }
    for (const e of c.env ?? []) if (/SECRET|KEY|DATABASE_URL/.test(e.name)) expect(e.value, e.name).toBeUndefined();
    // The HPA owns the replica count.
    expect(d.spec.replicas).toBeUndefined();
  });

  it('Deployment annotations match the scrape job; Service and PDB select its pods', () => {
    const d = one<Deployment>('Deployment');
    const podLabels = d.spec.template.metadata.labels;
    const annotations = d.spec.template.metadata.annotations ?? {};
    const c = d.spec.template.spec.containers[0] as Container;
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(annotations['prometheus.io/path']).toBe('/metrics');
    expect(Number(annotations['prometheus.io/port'])).toBe(c.ports?.[0]?.containerPort);
    const matches = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    expect(matches(d.spec.selector.matchLabels)).toBe(true);
    // The scrape job keeps pods by this label.
    const scrape = readFileSync(resolve(DEPLOY, 'prometheus/scrape.yml'), 'utf8');
    expect(scrape).toContain('__meta_kubernetes_pod_label_app_kubernetes_io_name');
    expect(podLabels['app.kubernetes.io/name']).toBe('chatbox');

    const svc = one<K8sObject & { spec: { selector: Record<string, string>; ports: { targetPort: string | number }[] } }>('Service');
    expect(matches(svc.spec.selector)).toBe(true);
    expect(svc.spec.ports[0]?.targetPort).toBe('http');
    const pdb = one<K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable?: number } }>('PodDisruptionBudget');
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(matches(pdb.spec.selector.matchLabels)).toBe(true);
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it('HPA: autoscaling/v2 on the Pods metric chatbox_websocket_connections_total, AverageValue 100, 2 to 10 replicas', () => {
    const hpa = one<Hpa>('HorizontalPodAutoscaler');
    const d = one<Deployment>('Deployment');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name });
    expect(hpa.spec.minReplicas).toBe(2);
    expect(hpa.spec.maxReplicas).toBe(10);
    expect(hpa.spec.metrics).toEqual([
      {
        type: 'Pods',
        pods: { metric: { name: 'chatbox_websocket_connections_total' }, target: { type: 'AverageValue', averageValue: '100' } },
      },
    ]);
    // The "near the HPA target" alert sits below the target.
    const rules = readFileSync(resolve(DEPLOY, 'prometheus/rules.yml'), 'utf8');
    const threshold = Number(/pod:chatbox_websocket_connections:sum > (\d+)/.exec(rules)?.[1]);
    expect(threshold).toBeGreaterThan(0);
    expect(threshold).toBeLessThan(100);
  });

  it('prometheus-adapter serves the HPA metric under its own name, as a gauge, per pod', () => {
    const cm = one<K8sObject>('ConfigMap');
    const config = cm.data?.['config.yaml'];
    expect(config).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), 'chatbox-adapter-'));
    try {
      writeFileSync(join(dir, 'config.yaml'), config as string);
      const rules = yamlDoc<{ rules: AdapterRule[] }>(join(dir, 'config.yaml')).rules;
      const hpaMetric = one<Hpa>('HorizontalPodAutoscaler').spec.metrics[0]?.pods?.metric.name as string;
      const rule = rules.find((r) => r.name.as === hpaMetric);
      expect(rule, hpaMetric).toBeDefined();
      expect(rule?.seriesQuery).toMatch(new RegExp(`^${hpaMetric}\\{`));
      expect(new RegExp(rule?.name.matches as string).test(hpaMetric)).toBe(true);
      expect(rule?.resources.overrides).toEqual({ namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });
      // A gauge: served as it is, never through rate() as the adapter's default *_total rule would.
      expect(rule?.metricsQuery).not.toMatch(/rate\(/);
      expect(rule?.metricsQuery).toContain('<<.Series>>{<<.LabelMatchers>>}');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('kustomization.yaml lists every chatbox manifest, and each exists', () => {
    const k = all.find((o) => o.kind === 'Kustomization') as unknown as { resources: string[] };
    expect(k.resources.sort()).toEqual(['deployment.yaml', 'hpa.yaml', 'pdb.yaml', 'redis.yaml', 'service.yaml']);
    for (const r of k.resources) expect(existsSync(join(DIR, r)), r).toBe(true);
  });

  it('several replicas: REDIS_URL names the Redis Service and its port; no session affinity anywhere', () => {
    const d = one<Deployment>('Deployment');
    const c = d.spec.template.spec.containers[0] as Container;
    const url = new URL(c.env?.find((e) => e.name === 'REDIS_URL')?.value as string);
    const redisSvc = one<K8sObject & { spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] } }>('Service', 'chatbox-redis');
    expect(url.protocol).toBe('redis:');
    expect(url.hostname).toBe(redisSvc.metadata.name);
    expect(Number(url.port)).toBe(redisSvc.spec.ports[0]?.port);
    const redis = one<K8sObject & { spec: { replicas: number; template: { metadata: { labels: Record<string, string> }; spec: { containers: (Container & { args?: string[] })[] } } } }>(
      'StatefulSet',
      'chatbox-redis',
    );
    expect(Object.entries(redisSvc.spec.selector).every(([k, v]) => redis.spec.template.metadata.labels[k] === v)).toBe(true);
    const rc = redis.spec.template.spec.containers[0];
    expect(rc?.ports?.find((p) => p.name === redisSvc.spec.ports[0]?.targetPort)?.containerPort).toBe(6379);
    // Live state only: nothing to persist.
    expect(rc?.args).toEqual(expect.arrayContaining(['--appendonly', 'no']));
    expect(rc?.securityContext?.readOnlyRootFilesystem).toBe(true);
    const svc = one<K8sObject & { spec: { sessionAffinity?: string } }>('Service');
    expect(svc.spec.sessionAffinity ?? 'None').toBe('None');
  });
});
