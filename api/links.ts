/**
 * Links into the Temporal Web UI for what the API returns. Null when no UI is
 * configured (TEMPORAL_UI_URL unset): a link that leads nowhere is worse than none.
 */
export interface UiLinks {
  /** The workflow's page (the UI opens its latest run). */
  workflow(workflowId: string | null): string | null;
  /** The UI's workflow list filtered by a visibility query. */
  list(query: string): string | null;
}

export function uiLinks(uiUrl: string | undefined, namespace: string): UiLinks {
  const base = uiUrl ? `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows` : null;
  return {
    workflow: (id) => (base && id ? `${base}/${encodeURIComponent(id)}` : null),
    list: (query) => (base ? `${base}?query=${encodeURIComponent(query)}` : null),
  };
}

/** A visibility query value, quoted as the UI's query language wants it. */
export function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}
