/** Routes and the signed-in shell. Every page is reachable by URL; back/forward re-render from it. */
import { type ReactNode, useEffect } from 'react'
import { useMe } from './api/queries.ts'
import { Loading } from './components/common.tsx'
import { Shell } from './components/shell.tsx'
import { GroupProfilePage } from './pages/group-profile.tsx'
import { GroupTypesPage } from './pages/group-types.tsx'
import { GroupsPage } from './pages/groups.tsx'
import { IngestionWarningsPage } from './pages/ingestion-warnings.tsx'
import { PersonalApiKeysPage } from './pages/personal-api-keys.tsx'
import { SignInPage } from './pages/sign-in.tsx'
import { UsageMetricsPage } from './pages/usage-metrics.tsx'
import { match, navigate, useLocation } from './router.tsx'

type Params = Record<string, string>
const ROUTES: [string, string, (p: Params, projectId: number) => ReactNode][] = [
  [
    '/project/:project/groups/:index',
    'Groups',
    (p, projectId) => <GroupsPage projectId={projectId} index={Number(p.index)} />,
  ],
  [
    '/project/:project/groups/:index/:key',
    'Group',
    (p, projectId) => (
      <GroupProfilePage projectId={projectId} index={Number(p.index)} groupKey={p.key as string} />
    ),
  ],
  [
    '/project/:project/settings/group-types',
    'Group types',
    (_, projectId) => <GroupTypesPage projectId={projectId} />,
  ],
  [
    '/project/:project/settings/usage-metrics',
    'Usage metrics',
    (_, projectId) => <UsageMetricsPage projectId={projectId} />,
  ],
  [
    '/project/:project/ingestion-warnings',
    'Ingestion warnings',
    (_, projectId) => <IngestionWarningsPage projectId={projectId} />,
  ],
  ['/project/:project/settings/personal-api-keys', 'Personal API keys', () => <PersonalApiKeysPage />],
]

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to])
  return <Loading />
}

export function App() {
  const { path } = useLocation()
  const me = useMe()
  if (path === '/login') return <SignInPage />
  if (me.isPending) return <Loading label="Signing in…" />
  if (me.isError || !me.data) return <Redirect to="/login" />
  const current = me.data.team?.id
  for (const [pattern, title, render] of ROUTES) {
    const params = match(pattern, path)
    if (params) {
      const projectId = Number(params.project)
      return (
        <Shell projectId={projectId} title={title} me={me.data}>
          {render(params, projectId)}
        </Shell>
      )
    }
  }
  if (current === undefined)
    return (
      <Shell projectId={0} title="No project" me={me.data}>
        <p>You are not a member of any project yet. Ask an admin to run `groupd users create`.</p>
      </Shell>
    )
  if (path === '/' || path.startsWith('/project/'))
    return (
      <Redirect
        to={`/project${path.startsWith('/project/') ? `/${path.split('/')[2]}` : `/${current}`}/groups/0`}
      />
    )
  return (
    <Shell projectId={current} title="Not found" me={me.data}>
      <h1>Page not found</h1>
      <p>
        <a href="/">Go to your project</a>
      </p>
    </Shell>
  )
}
