import type { Metadata } from "next";
import { ScoutList } from "./ScoutList";

export const metadata: Metadata = { title: "My scouts" };

export default function ScoutsPage() {
  return <ScoutList />;
}
