"use client";

import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useAuth } from "@/lib/auth";

const LINKS = [
  { href: "/", label: "New scout" },
  { href: "/scouts", label: "My scouts" },
  { href: "/settings", label: "Settings" },
];

export function SiteHeader() {
  const { user, logout } = useAuth();
  const pathname = usePathname();
  const router = useRouter();

  async function signOut() {
    await logout();
    router.push("/login");
  }

  return (
    <header className="site-header">
      <div className="site-header-inner">
        <Link href="/" className="brand">
          <span className="brand-mark" aria-hidden="true">◎</span>
          Open Scouts
        </Link>
        <nav className="site-nav" aria-label="Main">
          {user &&
            LINKS.map((l) => (
              <Link key={l.href} href={l.href} aria-current={pathname === l.href ? "page" : undefined}>
                {l.label}
              </Link>
            ))}
          {user ? (
            <>
              <span className="user-email" data-testid="header-user">{user.email}</span>
              <button type="button" className="btn btn-small" onClick={signOut} data-testid="header-signout">
                Sign out
              </button>
            </>
          ) : user === null && pathname !== "/login" ? (
            <Link href="/login" className="btn btn-small btn-primary">
              Sign in
            </Link>
          ) : null}
        </nav>
      </div>
    </header>
  );
}
