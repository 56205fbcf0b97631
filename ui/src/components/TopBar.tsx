import type { ReactNode } from "react";
import { Link } from "react-router-dom";

/** The bar atop every page: the name, linking home, and whatever the page puts beside it. */
export function TopBar({ children }: { children?: ReactNode }) {
  return (
    <header className="top">
      <h1><Link to="/">Parlor</Link></h1>
      {children}
    </header>
  );
}
