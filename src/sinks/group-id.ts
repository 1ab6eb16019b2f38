/**
 * The Kafka consumer group id of a sink: its `group.id`, else `cdc-fanout.<pipeline>.<sink>`. The one
 * place the default is spelled: the runner, `reset-offsets`, `validate --online` and the conflict
 * check between pipelines all derive it here, so they always name the same group.
 */
export function defaultGroupId(pipeline: string, sinkName: string): string {
  return `cdc-fanout.${pipeline}.${sinkName}`;
}

export function sinkGroupId(pipeline: string, sink: { readonly name: string; readonly 'group.id'?: string | undefined }): string {
  return sink['group.id'] ?? defaultGroupId(pipeline, sink.name);
}
