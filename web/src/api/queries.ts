/** TanStack Query hooks per resource; mutations invalidate what they change. */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { del, get, patch, post, put } from './client.ts'
import type {
  Event,
  Group,
  GroupType,
  Me,
  Metric,
  MetricResult,
  Page,
  PersonalApiKey,
  Project,
  WarningSummary,
} from './types.ts'

const p = (projectId: number) => `/api/projects/${projectId}`

export const useMe = () => useQuery({ queryKey: ['me'], queryFn: () => get<Me>('/api/users/@me/') })

export const useProjects = () =>
  useQuery({ queryKey: ['projects'], queryFn: () => get<Page<Project>>('/api/projects/?limit=100') })

export const useGroupTypes = (projectId: number) =>
  useQuery({
    queryKey: ['groupTypes', projectId],
    queryFn: () => get<GroupType[]>(`${p(projectId)}/groups_types/`),
  })

export function useGroupTypeMutations(projectId: number) {
  const client = useQueryClient()
  const onSuccess = () => client.invalidateQueries({ queryKey: ['groupTypes', projectId] })
  return {
    updateMetadata: useMutation({
      mutationFn: (rows: GroupType[]) =>
        patch<GroupType[]>(`${p(projectId)}/groups_types/update_metadata/`, rows),
      onSuccess,
    }),
    remove: useMutation({
      mutationFn: (index: number) => del(`${p(projectId)}/groups_types/${index}/`),
      onSuccess,
    }),
    setColumns: useMutation({
      mutationFn: (body: { group_type_index: number; default_columns: string[] }) =>
        put<GroupType>(`${p(projectId)}/groups_types/set_default_columns/`, body),
      // The answer is the updated type: put it in the cache at once (no flicker back while refetching).
      onSuccess: (updated: GroupType) =>
        client.setQueryData<GroupType[]>(['groupTypes', projectId], (old) =>
          old?.map((t) => (t.group_type_index === updated.group_type_index ? updated : t)),
        ),
    }),
  }
}

export const useMetrics = (projectId: number, index: number) =>
  useQuery({
    queryKey: ['metrics', projectId, index],
    queryFn: () => get<Page<Metric>>(`${p(projectId)}/groups_types/${index}/metrics/?limit=100`),
  })

export function useMetricMutations(projectId: number, index: number) {
  const client = useQueryClient()
  const base = `${p(projectId)}/groups_types/${index}/metrics/`
  const onSuccess = () => {
    client.invalidateQueries({ queryKey: ['metrics', projectId, index] })
    client.invalidateQueries({ queryKey: ['metricValues', projectId] })
  }
  return {
    save: useMutation({
      mutationFn: (metric: Omit<Metric, 'id'> & { id?: string }) =>
        metric.id ? put<Metric>(`${base}${metric.id}/`, metric) : post<Metric>(base, metric),
      onSuccess,
    }),
    remove: useMutation({ mutationFn: (id: string) => del(`${base}${id}/`), onSuccess }),
  }
}

export const useMetricValues = (projectId: number, index: number, key: string) =>
  useQuery({
    queryKey: ['metricValues', projectId, index, key],
    queryFn: () =>
      post<{ results: MetricResult[] }>(`${p(projectId)}/query/`, {
        query: { kind: 'UsageMetricsQuery', group_type_index: index, group_key: key },
      }),
    retry: false,
  })

export const useGroups = (projectId: number, index: number, search: string) =>
  useInfiniteQuery({
    queryKey: ['groups', projectId, index, search],
    initialPageParam: `${p(projectId)}/groups/?${new URLSearchParams({
      group_type_index: String(index),
      ...(search ? { search } : {}),
    })}`,
    queryFn: ({ pageParam }) => get<Page<Group>>(pageParam),
    getNextPageParam: (last) =>
      last.next ? new URL(last.next).pathname + new URL(last.next).search : undefined,
  })

export const groupQuery = (index: number, key: string) =>
  new URLSearchParams({ group_type_index: String(index), group_key: key }).toString()

export const useGroup = (projectId: number, index: number, key: string) =>
  useQuery({
    queryKey: ['group', projectId, index, key],
    queryFn: () => get<Group>(`${p(projectId)}/groups/find/?${groupQuery(index, key)}`),
  })

export function useGroupMutations(projectId: number, index: number, key: string) {
  const client = useQueryClient()
  const onSuccess = (group: Group) => {
    client.setQueryData(['group', projectId, index, key], group)
    client.invalidateQueries({ queryKey: ['groups', projectId, index] })
  }
  const q = groupQuery(index, key)
  return {
    setProperty: useMutation({
      mutationFn: (body: { key: string; value: unknown }) =>
        post<Group>(`${p(projectId)}/groups/update_property/?${q}`, body),
      onSuccess,
    }),
    deleteProperty: useMutation({
      mutationFn: (property: string) =>
        post<Group>(`${p(projectId)}/groups/delete_property/?${q}`, { $unset: property }),
      onSuccess,
    }),
  }
}

export const useEvents = (projectId: number, filters: Record<string, string>, limit = 50) =>
  useInfiniteQuery({
    queryKey: ['events', projectId, filters, limit],
    initialPageParam: `${p(projectId)}/events/?${new URLSearchParams({ ...filters, limit: String(limit) })}`,
    queryFn: ({ pageParam }) => get<Page<Event>>(pageParam),
    getNextPageParam: (last) =>
      last.next ? new URL(last.next).pathname + new URL(last.next).search : undefined,
  })

export const useWarnings = (projectId: number) =>
  useQuery({
    queryKey: ['warnings', projectId],
    queryFn: () => get<{ results: WarningSummary[] }>(`${p(projectId)}/ingestion_warnings/`),
  })

export const useKeys = () =>
  useQuery({ queryKey: ['keys'], queryFn: () => get<PersonalApiKey[]>('/api/personal_api_keys/') })

export function useKeyMutations() {
  const client = useQueryClient()
  const onSuccess = () => client.invalidateQueries({ queryKey: ['keys'] })
  return {
    create: useMutation({
      mutationFn: (body: { label: string; scopes: string[] }) =>
        post<PersonalApiKey>('/api/personal_api_keys/', body),
      onSuccess,
    }),
    revoke: useMutation({ mutationFn: (id: string) => del(`/api/personal_api_keys/${id}/`), onSuccess }),
  }
}
