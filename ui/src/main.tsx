import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Route, Routes } from "react-router-dom";
import { SessionProvider } from "./session";
import { Home } from "./pages/Home";
import { AuthPage } from "./pages/AuthPage";
import { Dashboard } from "./pages/Dashboard";
import { MeetingPage } from "./pages/MeetingPage";
import { applyLaunch, isNativeApp } from "./server";
import { startReporting } from "./native/report";
import { TrustGate } from "./native/trust";
import "./styles.css";

// The desktop app may have been started straight into a meeting.
const start = applyLaunch();
if (start) history.replaceState(null, "", start);
// `parlor-app --report FILE`: what the window shows, once a second.
if (isNativeApp()) void startReporting();

function App() {
  return (
    <SessionProvider>
      <BrowserRouter>
        <TrustGate>
        <Routes>
          <Route path="/" element={<Home />} />
          <Route path="/login" element={<AuthPage mode="login" />} />
          <Route path="/register" element={<AuthPage mode="register" />} />
          <Route path="/dashboard" element={<Dashboard />} />
          <Route path="/m/:code" element={<MeetingPage />} />
          <Route path="*" element={<Home />} />
        </Routes>
        </TrustGate>
      </BrowserRouter>
    </SessionProvider>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
