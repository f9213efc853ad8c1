/** The signed-in layout: navigation (group types, settings), project switcher, user and sign-out. */
import { useQueryClient } from '@tanstack/react-query'
import { type ReactNode, useEffect, useState } from 'react'
import { post } from '../api/client.ts'
import { useGroupTypes, useProjects } from '../api/queries.ts'
import type { Me } from '../api/types.ts'
import { capitalize, groupTypeNames } from '../format.ts'
import { Link, navigate, useLocation } from '../router.tsx'

function NavLink({ href, children }: { href: string; children: ReactNode }) {
  const { path } = useLocation()
  const active = path === href || path.startsWith(`${href}/`)
  return (
    <Link
      href={href}
      className={active ? 'nav-link active' : 'nav-link'}
      aria-current={active ? 'page' : undefined}
    >
      {children}
    </Link>
  )
}

function ProjectSwitcher({ projectId }: { projectId: number }) {
  const projects = useProjects()
  const list = projects.data?.results ?? []
  if (list.length <= 1) return list[0] ? <span className="project-name">{list[0].name}</span> : null
  return (
    <label className="project-switcher">
      <span className="sr-only">Project</span>
      <select value={projectId} onChange={(e) => navigate(`/project/${e.target.value}/groups/0`)}>
        {list.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
    </label>
  )
}

export function Shell({
  projectId,
  title,
  me,
  children,
}: {
  projectId: number
  title: string
  me: Me
  children: ReactNode
}) {
  const client = useQueryClient()
  const groupTypes = useGroupTypes(projectId)
  const [menuOpen, setMenuOpen] = useState(false)
  const { path } = useLocation()
  useEffect(() => {
    document.title = `${title} · groupd`
  }, [title])
  // biome-ignore lint/correctness/useExhaustiveDependencies: close the phone menu on navigation
  useEffect(() => setMenuOpen(false), [path])
  const signOut = async () => {
    try {
      await post('/api/logout')
    } finally {
      client.clear()
      navigate('/login')
    }
  }
  const base = `/project/${projectId}`
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href={`${base}/groups/0`} className="brand">
          groupd
        </Link>
        <ProjectSwitcher projectId={projectId} />
        <button
          type="button"
          className="btn btn-small menu-button"
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        <div className="topbar-user">
          <span className="muted small user-email">{me.email}</span>
          <button type="button" className="btn btn-small" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <div className="layout">
        <nav id="sidebar" className={menuOpen ? 'sidebar open' : 'sidebar'} aria-label="Main">
          <p className="nav-heading">Groups</p>
          {(groupTypes.data ?? []).map((t) => (
            <NavLink key={t.group_type_index} href={`${base}/groups/${t.group_type_index}`}>
              {capitalize(groupTypeNames(t).plural)}
            </NavLink>
          ))}
          {groupTypes.data?.length === 0 && <p className="muted small nav-note">No group types yet</p>}
          <p className="nav-heading">Settings</p>
          <NavLink href={`${base}/settings/group-types`}>Group types</NavLink>
          <NavLink href={`${base}/settings/usage-metrics`}>Usage metrics</NavLink>
          <NavLink href={`${base}/ingestion-warnings`}>Ingestion warnings</NavLink>
          <NavLink href={`${base}/settings/personal-api-keys`}>Personal API keys</NavLink>
        </nav>
        <main id="main" className="content" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  )
}
