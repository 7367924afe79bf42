import type { RpcResult } from '@lva/shared';
import { useCallback, useEffect, useRef, useState } from 'react';
import { AskPanel } from './components/AskPanel.tsx';
import { CaptureBar } from './components/CaptureBar.tsx';
import { DetailPane } from './components/DetailPane.tsx';
import { errorText } from './components/format.ts';
import { Search } from './components/Search.tsx';
import { StatusLine, type Status } from './components/StatusLine.tsx';
import { Timeline } from './components/Timeline.tsx';
import type { CoreNotice, RpcClient } from './rpc/client.ts';

type Captures = RpcResult<'list'>['captures'];

/** Job events arrive in bursts while a backlog drains; one refresh per burst is enough. */
const JOB_REFRESH_MS = 500;

export function App({ client }: { client: RpcClient }) {
  const [captures, setCaptures] = useState<Captures>();
  const [listError, setListError] = useState<string>();
  const [openId, setOpenId] = useState<string>();
  const [status, setStatus] = useState<Status>({ connection: 'connecting' });
  // Bumped when captures change, so an open search asks again (a new capture may now match).
  const [changes, setChanges] = useState(0);
  const refreshTimer = useRef<ReturnType<typeof setTimeout>>(undefined);

  const refresh = useCallback(() => {
    client.call('list', { limit: 50 }).then(
      (r) => {
        setCaptures(r.captures);
        setListError(undefined);
      },
      (err: unknown) => setListError(errorText(err)),
    );
  }, [client]);

  useEffect(() => {
    const offState = client.onState((connection, reason) => {
      setStatus((s) => ({ ...s, connection, ...(reason !== undefined ? { reason } : {}) }));
      // After a reconnect the core may have moved on (another client, a CLI import): catch up.
      if (connection === 'open') refresh();
    });
    const offEvents = client.onEvent((e) => {
      if (e.event === 'notice' || e.event === 'progress') {
        const data = e.data as Partial<CoreNotice> | undefined;
        if (data && typeof data.message === 'string') {
          const progress = data.type === 'progress' && typeof data.done === 'number' && typeof data.total === 'number' && data.total > 0 ? ` (${data.done}/${data.total})` : '';
          setStatus((s) => ({ ...s, message: `${data.message}${progress}`, kind: e.event }));
        }
      } else if (e.event === 'job') {
        clearTimeout(refreshTimer.current);
        refreshTimer.current = setTimeout(() => {
          refresh();
          setChanges((n) => n + 1);
        }, JOB_REFRESH_MS);
      }
    });
    return () => {
      offState();
      offEvents();
      clearTimeout(refreshTimer.current);
    };
  }, [client, refresh]);

  const onCaptured = useCallback(() => {
    refresh();
    setChanges((n) => n + 1);
  }, [refresh]);

  return (
    <div className="app">
      <header className="app-header">
        <h1>Learning Voice Agent</h1>
      </header>
      <main className="layout">
        <div className="column">
          <CaptureBar client={client} onCaptured={onCaptured} />
          <Timeline captures={captures} error={listError} onOpen={setOpenId} />
        </div>
        <div className="column">
          <Search client={client} onOpen={setOpenId} refreshKey={changes} />
          <AskPanel client={client} onOpen={setOpenId} />
        </div>
        {openId && <DetailPane client={client} id={openId} onClose={() => setOpenId(undefined)} />}
      </main>
      <StatusLine status={status} />
    </div>
  );
}
