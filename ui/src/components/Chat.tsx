import { useEffect, useRef, useState, type FormEvent } from "react";
import type { ChatMessage } from "../protocol";

export function Chat({ messages, selfId, onSend }: { messages: ChatMessage[]; selfId: string; onSend: (text: string) => void }) {
  const [text, setText] = useState("");
  const end = useRef<HTMLLIElement>(null);
  useEffect(() => {
    // Braced: scrollIntoView returns a promise in newer browsers, which React would take for a cleanup.
    void end.current?.scrollIntoView?.({ block: "end" });
  }, [messages.length]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const t = text.trim();
    if (!t) return;
    onSend(t);
    setText("");
  };
  return (
    <section className="panel chat" aria-label="Chat">
      <h2>Chat</h2>
      <ul>
        {messages.map((m) => (
          <li key={m.id} className={m.peerId === selfId ? "mine" : ""}>
            <span className="who">{m.displayName}</span>
            <time>{new Date(m.sentAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}</time>
            <p>{m.text}</p>
          </li>
        ))}
        <li ref={end} aria-hidden />
      </ul>
      <form onSubmit={submit} className="row">
        <input aria-label="Message" value={text} onChange={(e) => setText(e.target.value)} maxLength={2000} placeholder="Message everyone" />
        <button type="submit">Send</button>
      </form>
    </section>
  );
}
