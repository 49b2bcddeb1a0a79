/**
 * Pack manifests and install requests: the pack system's contract with the console.
 */

export type Permission = "network" | "filesystem.read" | "filesystem.write" | "subprocess" | "secrets.read";

/** "module:attribute", as the worker's manifest validator requires. */
export type EntryPoint = `${string}:${string}`;

export interface PackManifest {
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly requires: Readonly<Record<string, string>>;
  readonly skills: Readonly<Record<string, EntryPoint>>;
  readonly agents: Readonly<Record<string, EntryPoint>>;
  readonly permissions: readonly Permission[];
}

export interface InstallRequest {
  packs: Record<string, string>;
}

export interface InstallResponse {
  installed: string[];
}

export type PackStatus =
  | { state: "available"; versions: string[] }
  | { state: "installing"; constraint: string }
  | { state: "installed"; version: string }
  | { state: "failed"; reason: string };

export interface PackRow {
  readonly name: string;
  readonly description: string;
  readonly status: PackStatus;
  readonly risky: boolean;
}

const RISKY: ReadonlySet<Permission> = new Set(["filesystem.write", "subprocess", "secrets.read"]);

/** Packs that ask for write access, subprocesses or secrets need an explicit confirmation in the UI. */
export function isRisky(manifest: Pick<PackManifest, "permissions">): boolean {
  return manifest.permissions.some((p) => RISKY.has(p));
}

export function describeStatus(status: PackStatus): string {
  switch (status.state) {
    case "available":
      return `${status.versions.length} version(s) available`;
    case "installing":
      return `installing ${status.constraint}…`;
    case "installed":
      return `installed ${status.version}`;
    case "failed":
      return `failed: ${status.reason}`;
    default: {
      const unreachable: never = status;
      return unreachable;
    }
  }
}
