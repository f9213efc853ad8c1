/**
 * What groupd tells posthog-js (and PostHog's other client SDKs) about a project: PostHog's remote
 * config and flags response shapes, with every optional product off — groupd has no feature flags,
 * recordings, surveys, heatmaps, site apps or error tracking — and capture pointed at groupd's
 * `/i/v0/e/`. Shapes follow PostHog's rust/feature-flags (api/types.rs, api/endpoint.rs,
 * config endpoint) and posthog/models/test/test_remote_config.py.
 */
import { randomUUID } from 'node:crypto'

/** `GET /array/<token>/config`; config.js carries the same object without `siteApps`. */
export function remoteConfig(token?: string) {
  return {
    ...(token === undefined ? {} : { token }),
    // posthog-js gzips only when the config lists gzip; groupd detects it by content.
    supportedCompression: ['gzip', 'gzip-js'],
    // false: posthog-js then skips its flags request on page load.
    hasFeatureFlags: false,
    captureDeadClicks: false,
    capturePerformance: false,
    autocapture_opt_out: false,
    autocaptureExceptions: false,
    analytics: { endpoint: '/i/v0/e/' },
    elementsChainAsString: true,
    errorTracking: { autocaptureExceptions: false, suppressionRules: [] },
    logs: { captureConsoleLogs: false },
    sessionRecording: false,
    heatmaps: false,
    conversations: false,
    // No `surveys` key: posthog-js 1.449 fetches /static/surveys.js from the api host whenever the
    // key is a boolean, even false (groupd serves no SDK scripts); absent, it loads nothing.
    productTours: false,
    defaultIdentifiedOnly: true,
    siteApps: [],
  }
}

/** The script posthog-js loads first: it reads `window._POSTHOG_REMOTE_CONFIG[token]`. */
export function remoteConfigScript(token: string): string {
  const { siteApps: _, ...config } = remoteConfig(token)
  return [
    '(function() {',
    '  window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};',
    `  window._POSTHOG_REMOTE_CONFIG[${JSON.stringify(token)}] = {`,
    `    config: ${JSON.stringify(config)},`,
    '    siteApps: []',
    '  }',
    '})();',
  ].join('\n')
}

export type FlagsEndpoint = 'flags' | 'decide'

/** The response shapes PostHog picks by endpoint and `?v=` (rust/feature-flags api/endpoint.rs). */
type Shape = 'flags-v2' | 'flags-v1' | 'decide-v1' | 'decide-v2'

function shapeFor(endpoint: FlagsEndpoint, v: string | undefined, config: string | undefined): Shape {
  // A version that is not a number reads as 1; /flags with neither v nor config answers v2.
  const version =
    v === undefined
      ? endpoint === 'flags' && config === undefined
        ? 2
        : 1
      : /^\d{1,9}$/.test(v)
        ? Number(v)
        : 1
  if (endpoint === 'flags') return version >= 2 ? 'flags-v2' : 'flags-v1'
  if (version >= 4) return 'flags-v2'
  if (version === 3) return 'flags-v1'
  return version === 2 ? 'decide-v2' : 'decide-v1'
}

const FLAGS: Record<Shape, Record<string, unknown>> = {
  'flags-v2': { flags: {}, errorsWhileComputingFlags: false },
  'flags-v1': { featureFlags: {}, featureFlagPayloads: {}, errorsWhileComputingFlags: false },
  'decide-v1': { featureFlags: [] },
  'decide-v2': { featureFlags: {} },
}

/**
 * "No flags", in the shape the caller asked for. The remote config rides along whatever the
 * version (PostHog adds it for `config=true` and /decide), so an SDK that reads its settings from
 * this response finds every optional product off too.
 */
export function flagsResponse(
  endpoint: FlagsEndpoint,
  query: { v?: string; config?: string },
  token: string | undefined,
) {
  return {
    ...FLAGS[shapeFor(endpoint, query.v, query.config)],
    requestId: randomUUID(),
    evaluatedAt: Date.now(),
    ...remoteConfig(token),
    isAuthenticated: false,
    toolbarParams: {},
    config: { enable_collect_everything: true },
  }
}
