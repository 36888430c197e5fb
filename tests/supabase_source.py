"""A database shaped like the Supabase version's, for the import tests.

The tables follow the original project's migrations (public tables plus the columns of
GoTrue's auth.users that matter); the rows look like a small real installation: two
people (one with a password, one who signed in with Google), someone who deleted their
account, three scouts with their chats, ten runs with their steps, and preferences that
still carry Firecrawl keys.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import bcrypt

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE SCHEMA auth;
CREATE TABLE auth.users (
  id uuid PRIMARY KEY,
  email varchar(255),
  encrypted_password varchar(255),
  created_at timestamptz,
  deleted_at timestamptz,
  raw_app_meta_data jsonb
);
CREATE TABLE scouts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid REFERENCES auth.users(id) ON DELETE CASCADE,
  title text, description text, goal text,
  search_queries jsonb DEFAULT '[]'::jsonb,
  location jsonb,
  frequency text CHECK (frequency IN ('daily', 'every_3_days', 'weekly')),
  is_active boolean DEFAULT false,
  last_run_at timestamptz,
  consecutive_failures int DEFAULT 0,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now()
);
CREATE TABLE scout_messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  scout_id uuid REFERENCES scouts(id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('user', 'assistant')),
  content text NOT NULL,
  created_at timestamptz DEFAULT now()
);
CREATE TABLE scout_executions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  scout_id uuid NOT NULL REFERENCES scouts(id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
  started_at timestamptz DEFAULT now(),
  completed_at timestamptz,
  error_message text,
  results_summary jsonb,
  summary_text text,
  summary_embedding vector(1536),
  created_at timestamptz DEFAULT now()
);
CREATE TABLE scout_execution_steps (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  execution_id uuid NOT NULL REFERENCES scout_executions(id) ON DELETE CASCADE,
  step_number integer NOT NULL,
  step_type text NOT NULL,
  description text NOT NULL,
  input_data jsonb, output_data jsonb,
  status text NOT NULL,
  started_at timestamptz DEFAULT now(),
  completed_at timestamptz,
  error_message text,
  created_at timestamptz DEFAULT now()
);
CREATE TABLE user_preferences (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid UNIQUE REFERENCES auth.users(id) ON DELETE CASCADE,
  location jsonb,
  firecrawl_api_key text,
  firecrawl_custom_api_key text,
  firecrawl_key_status text DEFAULT 'pending',
  firecrawl_key_created_at timestamptz,
  firecrawl_key_error text,
  last_test_email_at timestamptz,
  created_at timestamptz DEFAULT now(),
  updated_at timestamptz DEFAULT now()
);
"""

OLD_PASSWORD = "old supabase password"
T0 = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)


@dataclass
class Seeded:
    ada: uuid.UUID = field(default_factory=uuid.uuid4)
    ben: uuid.UUID = field(default_factory=uuid.uuid4)
    gone: uuid.UUID = field(default_factory=uuid.uuid4)
    scouts: dict[str, uuid.UUID] = field(default_factory=dict)
    executions: list[uuid.UUID] = field(default_factory=list)
    running: uuid.UUID | None = None
    messages: int = 0
    steps: int = 0


def gotrue_hash(password: str) -> str:
    # GoTrue (Go's bcrypt) writes the $2a$ prefix; Python's bcrypt writes $2b$ for the
    # same algorithm, so the prefix is swapped to look exactly like a Supabase row.
    return "$2a$" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()[4:]


def dsn_for(postgres_url: str, database: str) -> str:
    base = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    return base.replace("/postgres?", f"/{database}?")


async def create_database(postgres_url: str, name: str) -> str:
    admin = await asyncpg.connect(dsn_for(postgres_url, "postgres"))
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    return dsn_for(postgres_url, name)


async def drop_database(postgres_url: str, name: str) -> None:
    admin = await asyncpg.connect(dsn_for(postgres_url, "postgres"))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


def _vector(seed: int) -> str:
    return "[" + ",".join(f"{((seed * 31 + i) % 97) / 97:.4f}" for i in range(1536)) + "]"


async def seed(dsn: str) -> Seeded:
    s = Seeded()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SCHEMA)
        users = [
            (s.ada, "Ada@Example.com", gotrue_hash(OLD_PASSWORD), T0, None,
             {"provider": "email", "providers": ["email"]}),
            # OAuth sign-ins: GoTrue leaves encrypted_password empty.
            (s.ben, "ben@example.org", "", T0 + timedelta(days=1), None,
             {"provider": "google", "providers": ["google"]}),
            (s.gone, "gone@example.net", gotrue_hash("whatever1"), T0, T0 + timedelta(days=5),
             {"provider": "email", "providers": ["email"]}),
        ]
        await conn.executemany(
            "INSERT INTO auth.users VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
            [(*u[:5], json.dumps(u[5])) for u in users])
        scouts = [
            ("denver", s.ada, "Denver Indian food", "daily", True,
             {"city": "Denver", "latitude": 39.74, "longitude": -104.99}),
            ("ai", s.ada, "AI coding tools", "weekly", False, {"city": "any"}),
            ("berlin", s.ben, "Berlin flea markets", "every_3_days", True,
             {"city": "Berlin", "latitude": 52.52, "longitude": 13.4}),
        ]
        for n, (key, owner, title, frequency, active, location) in enumerate(scouts):
            s.scouts[key] = uuid.uuid4()
            created = T0 + timedelta(days=n)
            await conn.execute(
                "INSERT INTO scouts (id, user_id, title, description, goal, search_queries, "
                "location, frequency, is_active, last_run_at, consecutive_failures, created_at, "
                "updated_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11, "
                "$12, $13)",
                s.scouts[key], owner, title, f"Watch for {title.lower()}",
                f"Find news about {title.lower()}",
                json.dumps([f"{title} news", f"new {title}"]), json.dumps(location), frequency,
                active, created + timedelta(days=9), n % 2, created, created + timedelta(days=9))
            for i, (role, text) in enumerate([
                ("user", f"I want to follow {title.lower()}"),
                ("assistant", "Where should I look, and how often?"),
                ("user", "Daily is fine"),
            ]):
                await conn.execute(
                    "INSERT INTO scout_messages (id, scout_id, role, content, created_at) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    uuid.uuid4(), s.scouts[key], role, text, created + timedelta(minutes=i))
                s.messages += 1
        # Ten runs: seven completed, two failed, one still running when the old app stopped.
        plan = ["completed"] * 4 + ["failed"] + ["completed"] * 3 + ["failed", "running"]
        owners = ["denver"] * 5 + ["ai"] * 2 + ["berlin"] * 3
        for i, (status, key) in enumerate(zip(plan, owners, strict=True)):
            run_id = uuid.uuid4()
            s.executions.append(run_id)
            started = T0 + timedelta(days=i, hours=6)
            done = status == "completed"
            summary = f"Finding number {i} about {key}" if done else None
            results = ({"taskCompleted": True, "taskStatus": "completed",
                        "response": f"## Finding {i}\n\n- something new in {key}"}
                       if done else None)
            await conn.execute(
                "INSERT INTO scout_executions (id, scout_id, status, started_at, completed_at, "
                "error_message, results_summary, summary_text, summary_embedding, created_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::vector, $10)",
                run_id, s.scouts[key], status, started,
                None if status == "running" else started + timedelta(minutes=3),
                "Firecrawl rate limit" if status == "failed" else None,
                json.dumps(results) if results else None, summary,
                _vector(i) if done else None, started)
            if status == "running":
                s.running = run_id
            for n, (kind, st) in enumerate([("search", "completed"), ("scrape", "completed"),
                                            ("summarize", "completed" if done else status)]):
                await conn.execute(
                    "INSERT INTO scout_execution_steps (id, execution_id, step_number, "
                    "step_type, description, input_data, output_data, status, started_at, "
                    "completed_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10)",
                    uuid.uuid4(), run_id, n + 1, kind, f"{kind} for run {i}",
                    json.dumps({"query": f"{key} news"}), json.dumps({"results": n}), st,
                    started + timedelta(seconds=n), started + timedelta(seconds=n + 1))
                s.steps += 1
        for owner, city in ((s.ada, "Denver"), (s.ben, "Berlin")):
            await conn.execute(
                "INSERT INTO user_preferences (id, user_id, location, firecrawl_api_key, "
                "firecrawl_key_status, created_at, updated_at) "
                "VALUES ($1, $2, $3::jsonb, 'fc-secret', 'active', $4, $4)",
                uuid.uuid4(), owner, json.dumps({"city": city, "country": "X", "latitude": 1.0,
                                                 "longitude": 2.0}), T0)
    finally:
        await conn.close()
    return s
