// Placeholder until the trigger modules land (issue 2): the serialisable trigger shape.
export interface Trigger {
  kind: string;
}
