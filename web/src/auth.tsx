import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { get, post, session } from './api/client';
import type { Me, TokenPair } from './api/types';

interface Auth {
  me: Me | null;
  /** true until the stored refresh token has been tried once at start-up */
  restoring: boolean;
  login(email: string, password: string): Promise<Me>;
  logout(): Promise<void>;
  changePassword(current: string, next: string): Promise<void>;
  reloadMe(): Promise<void>;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [restoring, setRestoring] = useState(true);

  useEffect(() => {
    session.onEnd(() => setMe(null));
    // A reload keeps the session: the refresh token (rotated on use) buys a new access token.
    (async () => {
      try {
        if (session.hasRefreshToken && (await session.refresh())) setMe(await get<Me>('/me'));
      } catch {
        session.clear();
      } finally {
        setRestoring(false);
      }
    })();
  }, []);

  const login = useCallback(async (email: string, password: string) => {
    session.set(await post<TokenPair>('/auth/login', { email, password }));
    const current = await get<Me>('/me');
    setMe(current);
    return current;
  }, []);

  const logout = useCallback(async () => {
    const refreshToken = localStorage.getItem('nxmesh.refresh_token');
    try {
      if (refreshToken) await post('/auth/logout', { refresh_token: refreshToken });
    } finally {
      session.clear();
      setMe(null);
    }
  }, []);

  const changePassword = useCallback(async (current: string, next: string) => {
    session.set(await post<TokenPair>('/auth/password', { current_password: current, new_password: next }));
    setMe(await get<Me>('/me'));
  }, []);

  const reloadMe = useCallback(async () => setMe(await get<Me>('/me')), []);

  const value = useMemo(() => ({ me, restoring, login, logout, changePassword, reloadMe }), [me, restoring, login, logout, changePassword, reloadMe]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error('useAuth outside AuthProvider');
  return auth;
}
