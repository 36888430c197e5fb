import type { Metadata } from "next";
import { Suspense } from "react";
import { Loading } from "@/components/Feedback";
import { LoginForm } from "./LoginForm";

export const metadata: Metadata = { title: "Sign in" };

export default function LoginPage() {
  return (
    <Suspense fallback={<Loading />}>
      <LoginForm />
    </Suspense>
  );
}
