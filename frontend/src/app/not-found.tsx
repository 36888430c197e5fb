import { NotFoundPanel } from "@/components/Feedback";

export default function NotFound() {
  return <NotFoundPanel what="Page" />;
}
