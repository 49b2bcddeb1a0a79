/**
 * REST service for packs, plus a client-side preview of what an install request would resolve to.
 */
import type { Result } from "../types/api";
import type { InstallResponse, PackManifest } from "../types/packs";
import { maxSatisfying } from "../utils/semver";
import type { HttpClient } from "./http";

export interface InstallPreview {
  name: string;
  constraint: string;
  picks: string | null;
  missingDependencies: string[];
}

export class PackService {
  constructor(private readonly http: HttpClient) {}

  install(packs: Record<string, string>): Promise<Result<InstallResponse>> {
    return this.http.post<InstallResponse>("/packs/install", { packs }, { timeoutMs: 60_000 });
  }

  /**
   * A first look before installing: which version each constraint picks from the catalog, and which
   * dependencies are not in the catalog at all. The worker's resolver has the final word (it backtracks).
   */
  preview(catalog: readonly PackManifest[], request: Record<string, string>): InstallPreview[] {
    const versions = new Map<string, string[]>();
    for (const manifest of catalog) {
      versions.set(manifest.name, [...(versions.get(manifest.name) ?? []), manifest.version]);
    }
    return Object.entries(request).map(([name, constraint]) => {
      const picks = maxSatisfying(versions.get(name) ?? [], constraint);
      const manifest = catalog.find((m) => m.name === name && m.version === picks);
      const missingDependencies = Object.keys(manifest?.requires ?? {}).filter((dep) => !versions.has(dep));
      return { name, constraint, picks, missingDependencies };
    });
  }
}
