import { useCallback, useState } from "react";
import { ApiError } from "./api";
import { describe } from "./errors";

/** What to tell the person about a failed request. */
export function errorText(err: unknown): string {
  return describe(err instanceof ApiError ? err.code : "network");
}

/** Runs a user's request, tracking whether it is under way and what went wrong, in words. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async (request: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await request();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}
