import type { NextConfig } from "next";

// /api/* is forwarded to the backend by src/proxy.ts (reads API_URL at run time).
const nextConfig: NextConfig = {
  output: "standalone",
  reactStrictMode: true,
  poweredByHeader: false,
};

export default nextConfig;
