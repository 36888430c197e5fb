import { HomePrompt } from "./HomePrompt";

export default function HomePage() {
  return <HomePrompt />;
}
