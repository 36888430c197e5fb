import type { Metadata } from "next";
import { ScoutPage } from "./ScoutPage";

export const metadata: Metadata = { title: "Scout" };

export default async function Page({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <ScoutPage id={id} />;
}
