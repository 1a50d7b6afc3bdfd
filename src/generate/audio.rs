//! Voice recordings: metadata documents for a share of encounters, and the audio bytes
//! themselves as a valid 16-bit mono PCM WAV rendered on demand from the recording's seed
//! (a few speech-band tones with a syllable-rate envelope plus noise), so the seeder streams
//! them to GridFS without ever holding them in a `ClinicData`.

use chrono::Duration;
use rand::Rng;

use super::clinical::VisitFacts;
use super::rng::{entity_rng, entity_u64, entity_uuid, Kind};
use super::SeedParams;
use crate::model::VoiceRecording;

/// Telephone-quality sample rate: small files, still a real WAV every player opens.
pub const SAMPLE_RATE_HZ: u32 = 8_000;
const HEADER_LEN: usize = 44;

/// The recording of an ended encounter, for `voice_share` of them; its length follows the
/// encounter's length times `voice_length_factor`.
pub fn recording(
    params: &SeedParams,
    clinic: u32,
    key: u64,
    f: &VisitFacts<'_>,
) -> Option<VoiceRecording> {
    let shape = &params.shape;
    let enc = f.encounter;
    let end = enc.end_time?;
    let mut rng = entity_rng(params.seed, clinic, Kind::Voice, key);
    if !rng.gen_bool(shape.voice_share.clamp(0.0, 1.0)) {
        return None;
    }
    let visit_secs = (end - enc.start_time).num_seconds().max(60) as f64;
    let duration =
        (visit_secs * shape.voice_length_factor.clamp(0.0, 1.0) * rng.gen_range(0.85..1.0))
            .round()
            .max(5.0) as u32;
    let id = entity_uuid(params.seed, clinic, Kind::Voice, key);
    Some(VoiceRecording {
        id,
        encounter_id: enc.id,
        patient_id: enc.patient_id,
        doctor_id: enc.doctor_id,
        filename: format!("encounter-{}-{}.wav", enc.id, id.simple()),
        duration_seconds: duration,
        sample_rate_hz: SAMPLE_RATE_HZ,
        created_at: end + Duration::seconds(rng.gen_range(5..120)),
        audio_seed: entity_u64(params.seed, clinic, Kind::Voice, key),
    })
}

/// Bytes of the WAV for `rec`, computed without rendering it.
pub fn wav_len(rec: &VoiceRecording) -> usize {
    HEADER_LEN + samples(rec) * 2
}

fn samples(rec: &VoiceRecording) -> usize {
    rec.duration_seconds as usize * rec.sample_rate_hz.max(1) as usize
}

const TABLE_BITS: u32 = 10;

fn sine_table() -> [i16; 1 << TABLE_BITS] {
    let mut t = [0i16; 1 << TABLE_BITS];
    for (i, v) in t.iter_mut().enumerate() {
        let x = i as f64 / (1 << TABLE_BITS) as f64 * std::f64::consts::TAU;
        *v = (x.sin() * 32767.0) as i16;
    }
    t
}

/// The audio of `rec`: deterministic from `rec.audio_seed`, a valid RIFF/WAVE PCM file.
pub fn wav_bytes(rec: &VoiceRecording) -> Vec<u8> {
    let n = samples(rec);
    let rate = rec.sample_rate_hz.max(1);
    let data_len = (n * 2) as u32;
    let mut out = Vec::with_capacity(HEADER_LEN + n * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());

    let table = sine_table();
    let mut seed = rec.audio_seed | 1;
    let mut next = || {
        // xorshift64*: cheap deterministic noise and parameter source.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    // Fundamental (voice pitch) and two formants, as 32-bit phase increments.
    let inc = |hz: f64| ((hz / f64::from(rate)) * 4_294_967_296.0) as u32;
    let f0 = 110.0 + (next() % 120) as f64;
    let incs = [inc(f0), inc(f0 * 4.3), inc(f0 * 9.7)];
    let mut phases = [0u32; 3];
    let syllable = (rate / 4).max(1) as usize; // ~4 syllables a second
    let mut level = 0i32;
    let mut noise = next();
    for i in 0..n {
        if i % syllable == 0 {
            // Speech and pauses: a new loudness every syllable, silence now and then.
            let r = next();
            level = if r % 5 == 0 {
                0
            } else {
                2000 + (r >> 40) as i32 % 6000
            };
        }
        let mut acc = 0i32;
        for (k, (p, d)) in phases.iter_mut().zip(incs).enumerate() {
            *p = p.wrapping_add(d);
            acc += i32::from(table[(*p >> (32 - TABLE_BITS)) as usize]) >> (k + 1);
        }
        if i % 16 == 0 {
            noise = next();
        }
        let hiss = ((noise >> ((i % 16) * 4)) & 0xFF) as i32 - 128;
        let s = (acc / 2 * level / 16384 + hiss * 4).clamp(i16::MIN as i32, i16::MAX as i32) as i16;
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use uuid::Uuid;

    fn rec(seconds: u32, seed: u64) -> VoiceRecording {
        VoiceRecording {
            id: Uuid::nil(),
            encounter_id: Uuid::nil(),
            patient_id: Uuid::nil(),
            doctor_id: Uuid::nil(),
            filename: "x.wav".into(),
            duration_seconds: seconds,
            sample_rate_hz: SAMPLE_RATE_HZ,
            created_at: NaiveDate::from_ymd_opt(2026, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            audio_seed: seed,
        }
    }

    #[test]
    fn wav_is_valid_pcm_with_predicted_length() {
        let r = rec(3, 99);
        let b = wav_bytes(&r);
        assert_eq!(b.len(), wav_len(&r));
        assert_eq!(b.len(), 44 + 3 * 8000 * 2);
        assert_eq!(&b[0..4], b"RIFF");
        assert_eq!(
            u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize,
            b.len() - 8
        );
        assert_eq!(&b[8..16], b"WAVEfmt ");
        assert_eq!(u16::from_le_bytes([b[20], b[21]]), 1, "PCM");
        assert_eq!(u16::from_le_bytes([b[22], b[23]]), 1, "mono");
        assert_eq!(u32::from_le_bytes(b[24..28].try_into().unwrap()), 8000);
        assert_eq!(u16::from_le_bytes([b[34], b[35]]), 16);
        assert_eq!(&b[36..40], b"data");
        assert_eq!(
            u32::from_le_bytes(b[40..44].try_into().unwrap()) as usize,
            b.len() - 44
        );
        // Not silence.
        let loud = b[44..]
            .chunks(2)
            .filter(|s| i16::from_le_bytes([s[0], s[1]]).abs() > 500)
            .count();
        assert!(loud > 1000, "{loud}");
    }

    #[test]
    fn wav_is_deterministic_per_seed() {
        assert_eq!(wav_bytes(&rec(1, 5)), wav_bytes(&rec(1, 5)));
        assert_ne!(wav_bytes(&rec(1, 5)), wav_bytes(&rec(1, 6)));
    }
}
