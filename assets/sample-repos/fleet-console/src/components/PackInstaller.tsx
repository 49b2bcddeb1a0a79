import { useMemo, useState } from "react";

import { describeStatus, isRisky, type PackManifest, type PackStatus } from "../types/packs";
import type { PackService } from "../services/packService";

export interface PackInstallerProps {
  service: PackService;
  catalog: readonly PackManifest[];
  installed: Readonly<Record<string, string>>;
}

/** Pick packs and constraints, preview the resolution, confirm risky permissions, install. */
export function PackInstaller({ service, catalog, installed }: PackInstallerProps) {
  const [request, setRequest] = useState<Record<string, string>>({});
  const [statuses, setStatuses] = useState<Record<string, PackStatus>>({});
  const [confirmed, setConfirmed] = useState(false);

  const names = useMemo(() => [...new Set(catalog.map((m) => m.name))].sort(), [catalog]);
  const preview = useMemo(() => service.preview(catalog, request), [service, catalog, request]);
  const risky = preview.some((p) => catalog.some((m) => m.name === p.name && m.version === p.picks && isRisky(m)));
  const blocked = preview.some((p) => p.picks === null || p.missingDependencies.length > 0);

  const setConstraint = (name: string, constraint: string | null) =>
    setRequest((previous) => {
      const next = { ...previous };
      if (constraint === null) delete next[name];
      else next[name] = constraint;
      return next;
    });

  const install = async () => {
    const pending = Object.fromEntries(
      Object.entries(request).map(([name, constraint]) => [name, { state: "installing", constraint } as PackStatus]),
    );
    setStatuses((s) => ({ ...s, ...pending }));
    const result = await service.install(request);
    if (result.ok) {
      const done: Record<string, PackStatus> = {};
      for (const key of result.value.installed) {
        const [name = key, version = "?"] = key.split("@");
        done[name] = { state: "installed", version };
      }
      setStatuses((s) => ({ ...s, ...done }));
      setRequest({});
      setConfirmed(false);
    } else {
      const failed = Object.fromEntries(
        Object.keys(request).map((name) => [name, { state: "failed", reason: result.error.message } as PackStatus]),
      );
      setStatuses((s) => ({ ...s, ...failed }));
    }
  };

  return (
    <section className="pack-installer">
      <ul>
        {names.map((name) => {
          const status: PackStatus | undefined =
            statuses[name] ?? (installed[name] ? { state: "installed", version: installed[name] as string } : undefined);
          return (
            <li key={name}>
              <label>
                <input
                  type="checkbox"
                  checked={name in request}
                  onChange={(e) => setConstraint(name, e.target.checked ? "*" : null)}
                />
                {name}
              </label>
              {name in request && (
                <input
                  aria-label={`${name} version constraint`}
                  value={request[name]}
                  onChange={(e) => setConstraint(name, e.target.value)}
                />
              )}
              {status && <small>{describeStatus(status)}</small>}
            </li>
          );
        })}
      </ul>
      {preview.length > 0 && (
        <table className="preview">
          <tbody>
            {preview.map((p) => (
              <tr key={p.name}>
                <td>{p.name}</td>
                <td>{p.constraint}</td>
                <td>{p.picks ?? "no matching version"}</td>
                <td>{p.missingDependencies.length > 0 && `missing: ${p.missingDependencies.join(", ")}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {risky && (
        <label className="warning">
          <input type="checkbox" checked={confirmed} onChange={(e) => setConfirmed(e.target.checked)} />
          These packs ask for write access, subprocesses or secrets. Install anyway?
        </label>
      )}
      <button disabled={preview.length === 0 || blocked || (risky && !confirmed)} onClick={install}>
        Install
      </button>
    </section>
  );
}
