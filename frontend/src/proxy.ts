import { NextResponse, type NextRequest } from "next/server";

// Forward /api/* to the aiohttp backend so the browser sees one origin.
// This is a rewrite done per request rather than in next.config's rewrites(),
// because those are frozen at build time and the standalone image must pick
// up API_URL when it starts.
export function proxy(request: NextRequest) {
  const base = (process.env.API_URL || "http://127.0.0.1:8000").replace(/\/+$/, "");
  const target = new URL(`${base}${request.nextUrl.pathname}${request.nextUrl.search}`);
  return NextResponse.rewrite(target);
}

export const config = { matcher: "/api/:path*" };
