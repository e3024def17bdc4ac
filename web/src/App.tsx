import { useEffect, useState } from 'react';
import { Navigate, NavLink, Outlet, Route, Routes, useLocation, useNavigate, useParams } from 'react-router-dom';
import { get } from './api/client';
import type { Paged, Workspace } from './api/types';
import { useAuth } from './auth';
import { EventFeedProvider, useFeed } from './events';
import { AccessLogsPage } from './pages/AccessLogs';
import { AgentDetailPage } from './pages/AgentDetail';
import { AuditPage } from './pages/Audit';
import { CertificatesPage } from './pages/Certificates';
import { EventsPage } from './pages/Events';
import { FleetPage } from './pages/Fleet';
import { ChangePasswordPage, LoginPage } from './pages/Login';
import { MembersPage } from './pages/Members';
import { RegistrationPage } from './pages/Registration';
import { UpstreamEditPage, UpstreamsPage } from './pages/Upstreams';
import { VirtualHostEditPage, VirtualHostsPage } from './pages/VirtualHosts';
import { Empty, ErrorBox, Loaded, Loading, useLoad } from './ui';
import { WorkspaceContext } from './workspace';

export function App() {
  const { me, restoring } = useAuth();
  const location = useLocation();
  if (restoring) return <Loading what="Restoring your session" />;
  if (!me) {
    return (
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route path="*" element={<Navigate to="/login" replace state={{ from: location.pathname }} />} />
      </Routes>
    );
  }
  if (me.must_change_password) return <ChangePasswordPage firstLogin />;
  return (
    <Routes>
      <Route path="/login" element={<Navigate to="/" replace />} />
      <Route path="/account/password" element={<Shell><ChangePasswordPage /></Shell>} />
      <Route path="/w/:workspaceId/*" element={<WorkspaceRoutes />} />
      <Route path="*" element={<Home />} />
    </Routes>
  );
}

/** The first workspace of the first organization (or the last one used). */
function Home() {
  const { me } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>(null);
  const [none, setNone] = useState(false);
  useEffect(() => {
    (async () => {
      const last = localStorage.getItem('nxmesh.workspace');
      if (last) {
        try {
          await get<Workspace>(`/workspaces/${last}`);
          navigate(`/w/${last}/fleet`, { replace: true });
          return;
        } catch {
          localStorage.removeItem('nxmesh.workspace');
        }
      }
      for (const org of me?.organizations ?? []) {
        const list = await get<Paged<Workspace>>(`/organizations/${org.id}/workspaces`, { per_page: 1 });
        if (list.data[0]) {
          navigate(`/w/${list.data[0].id}/fleet`, { replace: true });
          return;
        }
      }
      setNone(true);
    })().catch(setError);
  }, [me, navigate]);
  return (
    <Shell>
      {error ? <ErrorBox error={error} /> : none ? <Empty title="No workspace yet">Ask an organization admin to add you, or create an organization with the API.</Empty> : <Loading what="Opening your workspace" />}
    </Shell>
  );
}

function WorkspaceRoutes() {
  const { workspaceId = '' } = useParams();
  const { me } = useAuth();
  const state = useLoad(() => get<Workspace>(`/workspaces/${workspaceId}`), [workspaceId]);
  useEffect(() => {
    if (state.data) localStorage.setItem('nxmesh.workspace', state.data.id);
  }, [state.data]);
  return (
    <Loaded state={state}>
      {(workspace) => {
        const role = me?.organizations.find((o) => o.id === workspace.organization_id)?.role ?? 'viewer';
        return (
          <WorkspaceContext.Provider value={{ workspace, role, base: `/w/${workspace.id}` }}>
            <EventFeedProvider workspaceId={workspace.id}>
              <Shell workspace={workspace}>
                <Routes>
                  <Route path="fleet" element={<FleetPage />} />
                  <Route path="agents/:agentId" element={<AgentDetailPage />} />
                  <Route path="register" element={<RegistrationPage />} />
                  <Route path="virtual-hosts" element={<VirtualHostsPage />} />
                  <Route path="virtual-hosts/:id" element={<VirtualHostEditPage />} />
                  <Route path="upstreams" element={<UpstreamsPage />} />
                  <Route path="upstreams/:id" element={<UpstreamEditPage />} />
                  <Route path="certificates" element={<CertificatesPage />} />
                  <Route path="access-logs" element={<AccessLogsPage />} />
                  <Route path="events" element={<EventsPage />} />
                  <Route path="members" element={<MembersPage />} />
                  <Route path="audit" element={<AuditPage />} />
                  <Route path="*" element={<Navigate to="fleet" replace />} />
                </Routes>
              </Shell>
            </EventFeedProvider>
          </WorkspaceContext.Provider>
        );
      }}
    </Loaded>
  );
}

function Shell({ workspace, children }: { workspace?: Workspace; children: React.ReactNode }) {
  const { me, logout } = useAuth();
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  useEffect(() => setMenuOpen(false), [location.pathname]);
  const base = workspace ? `/w/${workspace.id}` : null;
  return (
    <div className="shell">
      <header className="topbar">
        <button type="button" className="menu-toggle" aria-expanded={menuOpen} aria-controls="sidebar" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <span className="brand">NxMesh</span>
        <WorkspaceSwitcher current={workspace} />
        <span className="spacer" />
        {workspace && <FeedIndicator />}
        <NavLink to="/account/password" className="user" title="Change password">
          {me?.email}
        </NavLink>
        <button type="button" onClick={() => logout()}>
          Log out
        </button>
      </header>
      <div className="body">
        {base && (
          <nav id="sidebar" className={menuOpen ? 'sidebar open' : 'sidebar'} aria-label="Sections">
            <NavLink to={`${base}/fleet`}>Fleet</NavLink>
            <NavLink to={`${base}/register`}>Register agents</NavLink>
            <NavLink to={`${base}/virtual-hosts`}>Virtual hosts</NavLink>
            <NavLink to={`${base}/upstreams`}>Upstreams</NavLink>
            <NavLink to={`${base}/certificates`}>Certificates</NavLink>
            <NavLink to={`${base}/access-logs`}>Access logs</NavLink>
            <NavLink to={`${base}/events`}>Events</NavLink>
            <NavLink to={`${base}/members`}>Members</NavLink>
            <NavLink to={`${base}/audit`}>Audit log</NavLink>
          </nav>
        )}
        <main>{children ?? <Outlet />}</main>
      </div>
    </div>
  );
}

function FeedIndicator() {
  const { state } = useFeed();
  const text = state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Live updates unavailable';
  return (
    <span className={`feed feed-${state}`} role="status" data-feed={state} title="Event feed (/v1/events)">
      {text}
    </span>
  );
}

/** Organization and workspace in one select: the options are grouped by organization. */
function WorkspaceSwitcher({ current }: { current?: Workspace }) {
  const { me } = useAuth();
  const navigate = useNavigate();
  const orgs = me?.organizations ?? [];
  const state = useLoad(async () => Promise.all(orgs.map(async (org) => ({ org, workspaces: (await get<Paged<Workspace>>(`/organizations/${org.id}/workspaces`, { per_page: 100 })).data }))), [me]);
  if (!state.data) return null;
  return (
    <label className="switcher">
      <span className="visually-hidden">Workspace</span>
      <select
        aria-label="Organization and workspace"
        value={current?.id ?? ''}
        onChange={(e) => {
          const section = location.pathname.split('/')[3] ?? 'fleet';
          const keep = ['fleet', 'register', 'virtual-hosts', 'upstreams', 'certificates', 'access-logs', 'events', 'members', 'audit'].includes(section) ? section : 'fleet';
          navigate(`/w/${e.target.value}/${keep}`);
        }}
      >
        {!current && <option value="">Choose a workspace</option>}
        {state.data.map(({ org, workspaces }) => (
          <optgroup key={org.id} label={`${org.name} (${org.role})`}>
            {workspaces.map((w) => (
              <option key={w.id} value={w.id}>
                {org.name} / {w.name}
              </option>
            ))}
          </optgroup>
        ))}
      </select>
    </label>
  );
}
