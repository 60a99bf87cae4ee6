// The profiles' names, defined once: the language, the engine, the schemas and the reports take
// them from here. A profile is a QEMU behaviour; src/engine/profiles.ts says what each does.
export const PROFILE_NAMES = ["pre-fix", "seed-v10", "qemu-2.7", "qemu-7.2", "qemu-10.0"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];
