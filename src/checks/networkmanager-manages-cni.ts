/**
 * networkmanager-manages-cni: NetworkManager runs on a node and is not told to leave the CNI's devices alone (seed 002:
 * it took over flannel.1 and cni0, a local route appeared on the flannel address, and after a restart of NetworkManager
 * flannel's routes to the other nodes were gone).
 */
import type { Evidence } from '../core/vocabulary.js';
import type { ClusterModel } from '../model/cluster.js';
import {
  configUnmanages,
  nmConfig,
  nmConfigFiles,
  nmRunning,
  nmType,
  parseNmcliDev,
  splitSpecs,
} from '../model/networkmanager.js';
import { defineCheck } from './define.js';

/** The devices NetworkManager must leave alone (Calico's and flannel's guidance, seed 002). */
export const CNI_DEVICE = /^(cni0|flannel.*|cali.*|tunl.*|vxlan\.calico|veth.*|docker0)$/;
export const UNMANAGED_SPECS = [
  'interface-name:cali*',
  'interface-name:tunl*',
  'interface-name:vxlan.calico',
  'interface-name:flannel*',
  'interface-name:veth*',
  'interface-name:cni0',
  'interface-name:docker0',
];
const CONF = '/etc/NetworkManager/conf.d/k8s.conf';

export default defineCheck({
  id: 'networkmanager-manages-cni',
  title: "NetworkManager manages the CNI's devices",
  severity: 'warning',
  seeds: ['002'],
  summary: 'NetworkManager runs and does not mark cni0, flannel*, cali*, tunl*, vxlan.calico, veth*, docker0 unmanaged',
  docs: `NetworkManager treats every device it is not told to ignore as its own: it re-applies addresses and routes on
them, and when it restarts or reconnects it removes the routes it did not write. The CNI's devices (cni0, flannel.1,
Calico's cali*/tunl0/vxlan.calico, the pods' veths, docker0) are configured by the CNI and flannel/Calico; under
NetworkManager a local route appears on the flannel address and the routes to the other nodes vanish (seed 002:
DNS and pod traffic across nodes time out). Calico and flannel both document the fix: list those devices in
\`[keyfile] unmanaged-devices\`.

netdoctor reports a node where NetworkManager runs (its process, or \`nmcli -t dev\` answering) and a CNI device is
managed: \`nmcli -t dev\` shows it in a state other than "unmanaged" (error), or, without nmcli, the merged
NetworkManager configuration (conf.d files in NetworkManager's order, interface-name globs, except:, [device]
sections with managed=false) leaves it managed (warning; veths are left out then, NetworkManager's udev rules usually
unmanage them).

Confirm by hand: \`nmcli device status\` — cni0 and flannel.1 must say "unmanaged". Fix: the conf.d file below, then
\`systemctl reload NetworkManager\`; then restart flannel/Calico so their routes come back.`,
  run(cluster: ClusterModel, { emit }) {
    for (const node of cluster.nodes) {
      const running = nmRunning(node);
      if (!running?.running) continue;
      const devices = node.links.filter((l) => CNI_DEVICE.test(l.name));
      if (devices.length === 0) continue;
      const files = nmConfigFiles(node);
      const cfg = nmConfig(files);
      const nmcli = node.output('nmcli-dev');
      const listed = nmcli !== undefined ? parseNmcliDev(nmcli) : [];
      const managed: { name: string; evidence: Evidence }[] = [];
      let strong = false;
      for (const l of devices) {
        const seen = listed.find((d) => d.device === l.name);
        if (seen) {
          if (seen.state === 'unmanaged') continue;
          strong = true;
          managed.push({
            name: l.name,
            evidence: {
              kind: 'nmcli',
              node: node.name,
              device: l.name,
              text: seen.line,
              detail: `NetworkManager manages ${l.name} (state "${seen.state}")`,
            },
          });
          continue;
        }
        if (listed.length && nmcli !== undefined) continue;
        // Without nmcli: the configuration decides; veths are usually unmanaged by NetworkManager's own udev rules.
        if (l.name.startsWith('veth')) continue;
        const by = configUnmanages(cfg, {
          name: l.name,
          ...(nmType(l.kind) ? { type: nmType(l.kind) } : {}),
          ...(l.mac ? { mac: l.mac } : {}),
        });
        if (by) continue;
        managed.push({
          name: l.name,
          evidence: {
            kind: 'config',
            node: node.name,
            device: l.name,
            text: cfg.unmanaged
              ? `${cfg.unmanaged.where}: ${cfg.unmanaged.line}`
              : `no [keyfile] unmanaged-devices in ${files.length ? files.map((f) => f.path).join(', ') : 'the NetworkManager config (none collected)'}`,
            detail: `does not cover ${l.name}`,
          },
        });
      }
      if (managed.length === 0) continue;
      const existing = cfg.unmanaged ? splitSpecs(cfg.unmanaged.value) : [];
      const keep = existing.some((s) => s.startsWith('except:') || s === '*') ? [] : existing;
      const specs = [...new Set([...keep, ...UNMANAGED_SPECS])];
      const names = managed.map((m) => m.name);
      emit({
        node: node.name,
        severity: strong ? 'error' : 'warning',
        title: `${node.name}: NetworkManager ${strong ? 'manages' : 'is not told to leave alone'} ${names.slice(0, 4).join(', ')}${names.length > 4 ? ` and ${names.length - 4} more` : ''}`,
        detail:
          `NetworkManager runs on ${node.name} (${running.evidence}) and ${strong ? 'manages' : 'may take over'} the CNI's devices: ` +
          'it re-applies its own idea of their addresses and routes and, when it restarts or reconnects, drops the routes ' +
          'flannel/Calico wrote — cross-node pod traffic and DNS then time out (seed 002).',
        evidence: [
          { kind: 'process', node: node.name, text: running.evidence.replace(/^process: /, '') },
          ...managed.map((m) => m.evidence),
        ],
        fix: [
          `printf '[keyfile]\\nunmanaged-devices=${specs.join(';')}\\n' > ${CONF}`,
          'systemctl reload NetworkManager',
        ],
      });
    }
  },
});
