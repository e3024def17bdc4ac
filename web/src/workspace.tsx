import { createContext, useContext } from 'react';
import type { Role, Workspace } from './api/types';

export interface WorkspaceScope {
  workspace: Workspace;
  role: Role;
  /** "/w/{workspace_id}" */
  base: string;
}

export const WorkspaceContext = createContext<WorkspaceScope | null>(null);

export function useWorkspace(): WorkspaceScope {
  const scope = useContext(WorkspaceContext);
  if (!scope) throw new Error('useWorkspace outside a workspace');
  return scope;
}
