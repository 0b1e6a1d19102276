//! The Laplacian experiment's scores: the true operator scores perfectly, a random one does
//! not, and a short run produces a complete report.

use burn::tensor::{DType, Device, Tensor, TensorData};
use niso::device::DeviceKind;
use niso::experiments::laplacian::{run, score, true_spectrum, LaplacianConfig, Manifold};
use niso::operator::Spectrum;
use niso::train::RunDir;

fn config(manifold: Manifold) -> LaplacianConfig {
    let text = match manifold {
        Manifold::Torus => include_str!("../../../configs/laplacian-torus.toml"),
        Manifold::Sphere => include_str!("../../../configs/laplacian-sphere.toml"),
    };
    let mut config: LaplacianConfig = niso::config::parse(text, &[]).unwrap();
    config.data.test_pairs = 4;
    config.data.channels = 40;
    config
}

fn scratch(name: &str) -> RunDir {
    let dir = std::env::temp_dir().join(format!("niso-laplacian-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    RunDir::create(dir).unwrap()
}

/// A spectrum on the plain CPU device from host values, eigenvalues scaled by `scale`.
fn spectrum(eigenvalues: &[f64], basis: &faer::Mat<f64>, mass: &[f64], scale: f64) -> Spectrum {
    let device = Device::flex();
    let (n, k) = (basis.nrows(), basis.ncols());
    let flat: Vec<f64> = (0..n * k).map(|i| basis[(i / k, i % k)]).collect();
    let scaled: Vec<f64> = eigenvalues.iter().map(|v| v * scale).collect();
    let tensor1 = |values: Vec<f64>| {
        let len = values.len();
        Tensor::<1>::from_data(TensorData::new(values, [len]), (&device, DType::F64))
    };
    Spectrum {
        mass: tensor1(mass.to_vec()),
        basis: Tensor::from_data(TensorData::new(flat, [n, k]), (&device, DType::F64)),
        eigenvalues: tensor1(scaled),
        mask_sharpness: 1.0,
    }
}

#[test]
fn the_true_operator_scores_perfectly_on_both_manifolds() {
    for manifold in [Manifold::Torus, Manifold::Sphere] {
        let config = config(manifold);
        let (eigenvalues, basis, mass) = true_spectrum(&config).unwrap();
        let perfect = spectrum(&eigenvalues, &basis, &mass, 100.0);
        let report = score(&config, &perfect, &Device::flex(), &scratch("perfect")).unwrap();

        for cosine in &report.eigenspace_cosines {
            assert!(
                *cosine > 0.999,
                "{manifold:?}: cosines {:?}",
                report.eigenspace_cosines
            );
        }
        assert!(report.multiplicities_recovered, "{manifold:?}: {report:?}");
        assert!(
            report.tau_block_fraction > 0.99,
            "{manifold:?}: {}",
            report.tau_block_fraction
        );
        let relative: f64 = report
            .eigenvalue_rel_errors
            .iter()
            .fold(0.0, |m, e| m.max(*e));
        assert!(
            relative < 1e-6,
            "{manifold:?}: eigenvalue errors {relative}"
        );
        if let Some(errors) = &report.wigner_rel_errors {
            assert!(
                errors.iter().all(|e| *e < 1e-3),
                "{manifold:?}: Wigner errors {errors:?}"
            );
        }
    }
}

#[test]
fn scores_do_not_depend_on_the_scale_of_the_learned_mass() {
    let config = config(Manifold::Sphere);
    let (eigenvalues, basis, mass) = true_spectrum(&config).unwrap();
    let factor: f64 = 20.0;
    let heavy: Vec<f64> = mass.iter().map(|m| m * factor).collect();
    let light_basis = faer::Mat::from_fn(basis.nrows(), basis.ncols(), |i, j| {
        basis[(i, j)] / factor.sqrt()
    });
    let rescaled = spectrum(&eigenvalues, &light_basis, &heavy, 100.0);
    let report = score(&config, &rescaled, &Device::flex(), &scratch("rescaled")).unwrap();
    let errors = report.wigner_rel_errors.unwrap();
    assert!(errors.iter().all(|e| *e < 1e-3), "Wigner errors {errors:?}");
    assert!(report.eigenspace_cosines.iter().all(|c| *c > 0.999));
}

#[test]
fn a_scrambled_basis_scores_poorly() {
    let config = config(Manifold::Torus);
    let (eigenvalues, basis, mass) = true_spectrum(&config).unwrap();
    let n = basis.nrows();
    let shuffled = faer::Mat::from_fn(n, n, |i, j| basis[(i, (j * 7 + 3) % n)]);
    let scrambled = spectrum(&eigenvalues, &shuffled, &mass, 100.0);
    let report = score(&config, &scrambled, &Device::flex(), &scratch("scrambled")).unwrap();
    let mean = report.eigenspace_cosines.iter().sum::<f64>() / 6.0;
    assert!(
        mean < 0.5,
        "a scrambled basis should not match: {:?}",
        report.eigenspace_cosines
    );
}

#[test]
fn a_short_run_writes_a_complete_report() {
    let mut config = config(Manifold::Sphere);
    config.run.steps = 3;
    config.run.batch_size = 2;
    config.optim.warmup_steps = 1;
    let dir = scratch("short");
    let report = run(&config, &dir, DeviceKind::Cpu, false).unwrap();
    assert_eq!(report.eigenspace_cosines.len(), 6);
    assert_eq!(report.wigner_rel_errors.as_ref().map(Vec::len), Some(8));
    for file in [
        "report.json",
        "report.md",
        "operator.png",
        "eigenfunctions.png",
        "tau.png",
    ] {
        assert!(dir.path(file).exists(), "{file} missing");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path("report.json")).unwrap()).unwrap();
    for key in [
        "eigenspace_cosines",
        "eigenvalue_rel_errors",
        "tau_block_fraction",
    ] {
        assert!(json.get(key).is_some(), "report.json lacks {key}");
    }
}

#[test]
fn the_decay_ramp_is_linear_and_then_constant() {
    let mut config = config(Manifold::Sphere);
    config.data.decay = 3.0;
    config.data.decay_start = Some(0.0);
    config.data.decay_ramp_steps = 1000;
    assert_eq!(config.data.decay_at(0), 0.0);
    assert!((config.data.decay_at(250) - 0.75).abs() < 1e-12);
    assert_eq!(config.data.decay_at(1000), 3.0);
    assert_eq!(config.data.decay_at(5000), 3.0);

    config.data.decay_start = None;
    assert_eq!(config.data.decay_at(0), 3.0);

    config.data.decay_start = Some(-1.0);
    let error = config.validate().unwrap_err().to_string();
    assert!(error.contains("data.decay_start"), "{error}");
}
