import type { NextConfig } from "next";

// The browser only ever talks to this origin; /api/* is forwarded to the
// aiohttp backend so cookies, CORS and streaming stay same-origin.
const apiUrl = (process.env.API_URL || "http://127.0.0.1:8000").replace(/\/+$/, "");

const nextConfig: NextConfig = {
  output: "standalone",
  reactStrictMode: true,
  poweredByHeader: false,
  async rewrites() {
    return [{ source: "/api/:path*", destination: `${apiUrl}/api/:path*` }];
  },
};

export default nextConfig;
