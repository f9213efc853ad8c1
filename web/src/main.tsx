import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { ApiError, setUnauthenticatedHandler } from './api/client.ts'
import { App } from './app.tsx'
import { navigate } from './router.tsx'
import './styles.css'

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 30_000,
      refetchOnWindowFocus: false,
      // Client errors will not fix themselves; retry only network and server trouble.
      retry: (count, error) =>
        count < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
    },
  },
})

setUnauthenticatedHandler(() => {
  queryClient.clear()
  if (location.pathname !== '/login') {
    const next = location.pathname + location.search
    navigate(`/login${next === '/' ? '' : `?next=${encodeURIComponent(next)}`}`, { replace: true })
  }
})

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
)
