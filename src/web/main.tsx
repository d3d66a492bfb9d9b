// Picks the page from the address: `?share=` -> shared view, `/console` -> admin console, else chat.
import './styles.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ChatPage } from './chat/ChatPage.js';
import { ConsolePage } from './console/ConsolePage.js';
import { listenForToken, takeToken } from './lib/token.js';
import { SharedView } from './shared/SharedView.js';

function App() {
  const share = new URLSearchParams(window.location.search).get('share');
  const isConsole = /\/console\/?$/.test(window.location.pathname);
  const [token, setToken] = useState(() => takeToken());
  useEffect(() => listenForToken(setToken), []);
  if (share !== null && share !== '') return <SharedView token={share} />;
  if (token === undefined) {
    return (
      <main class="page">
        <h1>chatbox</h1>
        <p role="alert">
          No sign-in token. Open this page with <code>?token=…</code> (in development `npm start` prints ready links), or
          embed it and send <code>{'{type: "chatbox_token", token}'}</code> with postMessage.
        </p>
      </main>
    );
  }
  return isConsole ? <ConsolePage token={token} key={token} /> : <ChatPage token={token} key={token} />;
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
