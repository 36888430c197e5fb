"use client";

import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useState } from "react";
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
  // On phones the links fold behind a Menu button (a disclosure, the pattern for site nav).
  const [open, setOpen] = useState(false);
  const [openedOn, setOpenedOn] = useState(pathname);
  if (openedOn !== pathname) {
    // Following a link closes the menu.
    setOpenedOn(pathname);
    setOpen(false);
  }

  async function signOut() {
    setOpen(false);
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
        {user && (
          <button
            type="button"
            className="btn btn-small menu-button"
            aria-expanded={open}
            aria-controls="site-nav"
            onClick={() => setOpen((o) => !o)}
            data-testid="menu-button"
          >
            {open ? "Close" : "Menu"}
          </button>
        )}
        <nav id="site-nav" className="site-nav" data-open={open} aria-label="Main">
          {user &&
            LINKS.map((l) => (
              <Link key={l.href} href={l.href} aria-current={pathname === l.href ? "page" : undefined} onClick={() => setOpen(false)}>
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
