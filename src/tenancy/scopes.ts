/**
 * API scopes, PostHog's rules: `object:read` or `object:write`, or `*` for everything;
 * a write scope implies read on the same object.
 */

/** The scope objects groupd's API uses. */
export const SCOPE_OBJECTS = ['project', 'group', 'usage_metric', 'query'] as const
export type ScopeObject = (typeof SCOPE_OBJECTS)[number]
export type ScopeAction = 'read' | 'write'

export function isValidScope(scope: string): boolean {
  if (scope === '*') return true
  const [object, action, extra] = scope.split(':')
  return (
    extra === undefined &&
    (SCOPE_OBJECTS as readonly string[]).includes(object ?? '') &&
    (action === 'read' || action === 'write')
  )
}

export function grants(scopes: readonly string[], object: ScopeObject, action: ScopeAction): boolean {
  if (scopes.includes('*')) return true
  if (scopes.includes(`${object}:write`)) return true
  return action === 'read' && scopes.includes(`${object}:read`)
}
