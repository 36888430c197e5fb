"use client";

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useRouter } from "next/navigation";
import { auth, getSession, onSessionChange, setAuthLostHandler } from "./api";
import type { User } from "./types";

interface AuthState {
  /** null when signed out; undefined while the stored session is being read. */
  user: User | null | undefined;
  login(email: string, password: string): Promise<User>;
  signup(email: string, password: string): Promise<User>;
  logout(): Promise<void>;
  refresh(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function loginPath(next?: string): string {
  return next && next !== "/login" ? `/login?next=${encodeURIComponent(next)}` : "/login";
}

function currentPath(): string {
  return `${window.location.pathname}${window.location.search}`;
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const router = useRouter();

  useEffect(() => {
    // localStorage is only readable after mount; reading it during render
    // would make the server and client HTML differ.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    setUser(getSession()?.user ?? null);
    const off = onSessionChange((s) => setUser(s?.user ?? null));
    setAuthLostHandler(() => {
      if (window.location.pathname !== "/login") router.replace(loginPath(currentPath()));
    });
    return () => {
      off();
      setAuthLostHandler(null);
    };
  }, [router]);

  const refresh = useCallback(async () => {
    if (!getSession()) return;
    const me = await auth.me();
    setUser(me);
  }, []);

  const value = useMemo<AuthState>(
    () => ({
      user,
      login: auth.login,
      signup: auth.signup,
      logout: auth.logout,
      refresh,
    }),
    [user, refresh],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth must be used inside <AuthProvider>");
  return ctx;
}

/**
 * The signed-in user for a page that needs one; sends signed-out visitors to
 * /login with a way back. Returns undefined until that is known.
 */
export function useRequireUser(): User | undefined {
  const { user } = useAuth();
  const router = useRouter();
  useEffect(() => {
    if (user === null) router.replace(loginPath(currentPath()));
  }, [user, router]);
  return user ?? undefined;
}
