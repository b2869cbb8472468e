"""The one table of thresholds `ganeval diagnose` judges by, each with the reason for its value, and the remedies its
findings give with their citations."""
from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("divergence", "discriminator_wins", "oscillation", "mode_collapse", "mode_hopping", "learning_rate_mismatch")


@dataclass(frozen=True)
class Threshold:
    value: float
    reason: str


# The one table of thresholds. The losses' equilibrium values come from ganeval.train.losses.EQUILIBRIUM_LOSSES
# (copied here as numbers: diagnosis reads records and never imports training).
THRESHOLDS: dict[str, Threshold] = {
    "growth": Threshold(100.0, "a loss or gradient norm ending 100x (two orders of magnitude) above its early median "
                               "is divergence, not learning: healthy fmnist runs end within 3x; the 2D mixtures' "
                               "gradient norms grow 7-750x from their tiny start (N(0, 0.02^2) initialisation), "
                               "which the floor below keeps out (calibration table)"),
    "gradient_norm": Threshold(1000.0, "and above 1,000 for a gradient norm, 10 for a loss: ganhacks calls norms above "
                                       "100 trouble, but healthy ring8 runs end at 250-380 (peaks of 760) while their "
                                       "FID falls; fmnist runs end below 16"),
    "saturation": Threshold(50.0, "a mean D output or a loss beyond +-50: for the BCE losses sigmoid's gradient there "
                                  "is below 2e-22 and neither network learns; LSGAN's scores aim at 0 and 1 and "
                                  "hinge's margins are +-1, so +-50 is far outside both games; healthy runs stay "
                                  "within +-6.4 for D's outputs and 21.5 for a loss (LSGAN's first steps)"),
    "d_accuracy": Threshold(0.95, "D separates real from generated at a rate equilibrium (0.5) never reaches; the "
                                  "running median of healthy runs peaked at 0.87 on fmnist and 0.94 on ring8, never "
                                  "together with the loss below (calibration table)"),
    "d_loss_share": Threshold(0.25, "D's loss below a quarter of its equilibrium value (2 ln 2 = 1.386 for BCE): "
                                    "ganhacks' 'D loss goes to 0', scaled per loss; lr_d 10x lr_g sits at 0.04-0.25 "
                                    "of it, healthy runs at 0.39 (ring8) and 0.50 (fmnist) at their lowest"),
    "window": Threshold(5, "D's accuracy and loss are judged on running medians of 5 logged lines (100 steps at "
                           "log_every 20): one batch's accuracy of 1 or loss of 0 is common in healthy runs"),
    "sustained": Threshold(0.25, "a pattern counts when it holds over at least a quarter of the logged steps (and 5 "
                                 "lines): a few bad batches are noise"),
    "fid_progress": Threshold(0.05, "FID 'stops improving' when it falls by less than 5% over the span"),
    "noise": Threshold(0.10, "without bootstrap intervals, a FID move counts beyond noise above 10% relative (the "
                             "spread of FID at 1,000 samples over seeds is a few percent)"),
    "rises": Threshold(2, "oscillation: FID rises beyond noise at least twice after falling (one rise is a bad "
                          "checkpoint)"),
    "diversity_drop": Threshold(0.2, "a diversity metric (modes, coverage, recall, Vendi) 20% below its best "
                                     "checkpoint's while precision holds is collapse, not noise"),
    "persist": Threshold(2, "and below it at 2 checkpoints in a row: the 2D mixtures' coverage dips by 25-40% at a "
                            "single checkpoint of healthy runs (ring8, calibration table) and comes back"),
    "peak_precision": Threshold(0.5, "the best checkpoint a collapse is measured from has at least half the run's best "
                                     "precision: ring8's generator at 1,000 steps sprays samples everywhere (recall "
                                     "1.0 at precision 0.005), and sharpening from there is no collapse"),
    "precision_hold": Threshold(0.9, "precision 'holds' when it stays above 90% of its value at that best checkpoint"),
    "covered": Threshold(0.5, "a mode is covered from half its share of the checkpoint's samples under uniform "
                              "coverage (PacGAN counts one high-quality sample: too few to tell a hop from noise)"),
    "lost": Threshold(0.1, "and lost below a tenth of it; between the two it keeps its state (hysteresis), so a "
                           "count wavering around one line is no hop"),
    "mode_samples": Threshold(10, "a checkpoint's modes are read from 10 samples per mode on average (250 on grid25): "
                                  "early grid25 checkpoints hold 12-60 high-quality samples in all"),
    "hops": Threshold(3, "mode hopping: 3 modes or more lost and found again (or found and lost again); grid25-gan "
                         "shows 7 over 24,000 steps, grid25-pacgan2 1 (calibration table)"),
    "chance": Threshold(0.55, "D 'at chance': the median accuracy of the second half at most 0.55 (0.5 is a coin); "
                              "healthy runs sit at 0.59-0.78, lr_g 10x lr_d at 0.52 (calibration table)"),
    "at_equilibrium": Threshold(0.95, "and its median loss at least 95% of the equilibrium value (2 ln 2 for BCE): "
                                      "D gains nothing on G"),
    "lr_ratio": Threshold(5.0, "a ratio of D's to G's effective rate (lr x steps per G step) at or beyond 5 or 1/5 "
                               "with the matching pattern names the rates: beyond TTUR's usual setting (SAGAN 4e-4 "
                               "/ 1e-4, ratio 4) and DCGAN's 1"),
}
EQUILIBRIUM_D_LOSS = {"ns": 2 * math.log(2), "minimax": 2 * math.log(2), "lsgan": 0.25, "hinge": 2.0}
SIGNAL_KINDS = ("divergence", "discriminator_wins", "learning_rate_mismatch")
MIN_LINES = 5  # lines D's accuracy and loss are judged on, at the least
SCORE_KINDS = ("oscillation", "mode_collapse", "mode_hopping")

REMEDIES = {
    "divergence": ("lower the learning rates (both, by 2-10x), add a gradient penalty or spectral normalisation to "
                   "D, and restart from the last finite checkpoint",
                   "Mescheder, Geiger & Nowozin 2018, Which Training Methods for GANs do actually Converge? (ICML); "
                   "Miyato et al. 2018, Spectral Normalization for GANs (ICLR)"),
    "discriminator_wins": ("weaken D or strengthen G: lower lr_d or its steps per G step, use the non-saturating or "
                           "hinge loss, add instance noise / label smoothing or a penalty on D (R1, spectral norm)",
                           "Arjovsky & Bottou 2017, Towards Principled Methods for Training GANs (ICLR); Salimans et "
                           "al. 2016, Improved Techniques for Training GANs (NeurIPS); ganhacks"),
    "oscillation": ("lower the learning rates or use TTUR, Adam with beta1 0 to 0.5, an EMA of G's weights for "
                    "sampling, and pick checkpoints by score with intervals (compare --select best)",
                    "Heusel et al. 2017, GANs Trained by a Two Time-Scale Update Rule (NeurIPS); Yazici et al. 2019, "
                    "The Unusual Effectiveness of Averaging in GAN Training (ICLR)"),
    "mode_collapse": ("let D see several samples at once (PacGAN packing, minibatch discrimination), add a gradient "
                      "penalty, or stop at the checkpoint before the drop",
                      "Lin et al. 2018, PacGAN (NeurIPS); Salimans et al. 2016 (minibatch discrimination)"),
    "mode_hopping": ("the generator chases D from mode to mode: unrolled or packed discriminators, lower rates, an EMA "
                     "of G's weights",
                     "Metz et al. 2017, Unrolled GANs (ICLR); Lin et al. 2018, PacGAN (NeurIPS)"),
    "learning_rate_mismatch": ("bring the rates into balance: TTUR's D faster than G by up to ~4x (SAGAN G 1e-4 / D "
                               "4e-4), DCGAN's 2e-4 / 2e-4, WGAN-GP's 5 critic steps at 1e-4",
                               "Heusel et al. 2017 (TTUR); Zhang et al. 2019, SAGAN (ICML); Radford et al. 2016, DCGAN "
                               "(ICLR); Gulrajani et al. 2017, WGAN-GP (NeurIPS)"),
}
