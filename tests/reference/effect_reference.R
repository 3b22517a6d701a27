# Reference values for analysis/effectiveness.py and analysis/power.py.
#
# Uses R's survey package (4.1.1) and base R's stats on the simulated data committed in
# tests/reference/data/effect_*.csv (written by tests/reference/effect_data.py). Writes every
# result to effect_reference_r.json beside this script (or under the directory given as the
# first argument). Run from anywhere:
#   Rscript tests/reference/effect_reference.R [output_dir]
# The Python tests compare against the committed output; tests marked `r` rerun this script and
# check that the output is unchanged.

suppressMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
script_dir <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else getwd()
})
out_dir <- if (length(args)) args[1] else script_dir
data_dir <- file.path(script_dir, "data")
options(survey.lonely.psu = "fail", survey.ultimate.cluster = FALSE)
tight <- glm.control(epsilon = 1e-14, maxit = 100)

# ---------------------------------------------------------------------------------------------
# A tiny JSON writer (no extra packages): numbers with 17 significant digits.

results <- list()
num <- function(x) {
  x <- as.numeric(x)
  ifelse(is.finite(x), sprintf("%.17g", x), "null")
}
json_value <- function(v) {
  if (is.list(v)) {
    keys <- names(v)
    inner <- vapply(seq_along(v), function(i) paste0('"', keys[i], '":', json_value(v[[i]])),
                    character(1))
    return(paste0("{", paste(inner, collapse = ","), "}"))
  }
  if (is.character(v)) {
    quoted <- paste0('"', gsub('"', '\\\\"', v), '"')
    return(if (length(v) == 1 && isTRUE(attr(v, "scalar"))) quoted
           else paste0("[", paste(quoted, collapse = ","), "]"))
  }
  paste0("[", paste(num(v), collapse = ","), "]")
}
put <- function(.name, .call, ...) {
  fields <- lapply(list(...), function(f) unname(f))
  results[[.name]] <<- c(list(call = structure(.call, scalar = TRUE)), fields)
}

# ---------------------------------------------------------------------------------------------
# Cross-section: a stratified cluster sample with a confounded exposure.

survey_data <- read.csv(file.path(data_dir, "effect_survey.csv"))
survey_data$education <- factor(survey_data$education)  # levels sorted, as the Python side
survey_data$sex <- factor(survey_data$sex)
des <- svydesign(id = ~psu, strata = ~stratum, weights = ~weight, data = survey_data)

put_glm <- function(name, call, fit) {
  put(name, call, terms = structure(names(coef(fit)), scalar = FALSE),
      coef = coef(fit), se = sqrt(diag(vcov(fit))), df = fit$df.residual)
}

put_glm("regression",
        "svyglm(literacy_index ~ exposure_any + age + sex + education + urban, des)",
        svyglm(literacy_index ~ exposure_any + age + sex + education + urban, design = des))
put_glm("difference_glm", "svyglm(literacy_index ~ exposure_any, des)",
        svyglm(literacy_index ~ exposure_any, design = des))
by_group <- svyby(~literacy_index, ~exposure_any, des, svymean, covmat = TRUE)
contrast <- svycontrast(by_group, c(-1, 1))
put("difference_contrast",
    "svycontrast(svyby(~literacy_index, ~exposure_any, des, svymean, covmat=TRUE), c(-1, 1))",
    estimate = coef(contrast), se = SE(contrast), means = coef(by_group), df = degf(des))

# IPW: survey-weighted logistic propensity model, clipped to [0.01, 0.99], stabilised weights;
# the effect is the treatment coefficient of svyglm on the IPW-weighted design.
ps <- svyglm(exposure_any ~ age + sex + education + urban, design = des,
             family = quasibinomial(), control = tight)
e <- fitted(ps)
treated <- survey_data$exposure_any == 1
share <- sum(survey_data$weight * treated) / sum(survey_data$weight)
ipw_design <- function(factor) {
  d <- survey_data
  d$w_ipw <- d$weight * factor
  svydesign(id = ~psu, strata = ~stratum, weights = ~w_ipw, data = d)
}
put_ipw <- function(name, call, factor) {
  dw <- ipw_design(factor)
  fit <- svyglm(literacy_index ~ exposure_any, design = dw)
  means <- svyby(~literacy_index, ~exposure_any, dw, svymean)
  put(name, call, effect = coef(fit)[2], se_weights_fixed = sqrt(diag(vcov(fit)))[2],
      means = coef(means))
}
ec <- pmin(pmax(e, 0.01), 0.99)
sw <- ifelse(treated, share / ec, (1 - share) / (1 - ec))
put_ipw("ipw",
        "e <- fitted(svyglm(exposure_any ~ age+sex+education+urban, des, quasibinomial)); clip to [0.01, 0.99]; svyglm(literacy_index ~ exposure_any, design with weight*stabilised IPW)",
        sw)
caps <- quantile(sw, c(0.05, 0.95), type = 7)
put_ipw("ipw_capped",
        "as ipw, stabilised weights capped at their 5th and 95th percentiles (quantile type 7)",
        pmin(pmax(sw, caps[1]), caps[2]))
ec2 <- pmin(pmax(e, 0.15), 0.85)
put_ipw("ipw_bounds", "as ipw with propensities clipped to [0.15, 0.85]",
        ifelse(treated, share / ec2, (1 - share) / (1 - ec2)))
put("propensity", "coef(svyglm(exposure_any ~ age + sex + education + urban, des, family=quasibinomial()))",
    coef = coef(ps), fitted_summary = c(min(e[treated]), max(e[treated]), min(e[!treated]),
                                        max(e[!treated])))

# SMDs of the balance table, before weighting and after (clipped IPW weights), for age and
# education = graduate; the denominator is sqrt((v1 + v0)/2) of the design-weighted group
# variances before weighting.
wmean <- function(x, w) sum(w * x) / sum(w)
wvar <- function(x, w) sum(w * (x - wmean(x, w))^2) / sum(w)
smd <- function(x, wt) {
  w <- survey_data$weight
  s <- sqrt((wvar(x[treated], w[treated]) + wvar(x[!treated], w[!treated])) / 2)
  (wmean(x[treated], wt[treated]) - wmean(x[!treated], wt[!treated])) / s
}
graduate <- as.numeric(survey_data$education == "graduate")
put("balance", "standardised mean differences of age and education==graduate, before and after IPW",
    age = c(smd(survey_data$age, survey_data$weight), smd(survey_data$age, survey_data$weight * sw)),
    graduate = c(smd(graduate, survey_data$weight), smd(graduate, survey_data$weight * sw)))

# Pooled within-group SD of the outcome (the denominator of effect_sd).
y <- survey_data$literacy_index
w <- survey_data$weight
pooled <- sqrt((sum(w[treated] * (y[treated] - wmean(y[treated], w[treated]))^2) +
                sum(w[!treated] * (y[!treated] - wmean(y[!treated], w[!treated]))^2)) / sum(w))
put("pooled_sd", "sqrt(sum_g sum_i w_i (y_i - ybar_g)^2 / sum(w))", sd = pooled)

# AIPW point estimate: outcome regressions in each group (svyglm on the subset), predicted for
# everyone, with the clipped propensity.
m1 <- svyglm(literacy_index ~ age + sex + education + urban, design = subset(des, exposure_any == 1))
m0 <- svyglm(literacy_index ~ age + sex + education + urban, design = subset(des, exposure_any == 0))
p1 <- as.numeric(predict(m1, newdata = survey_data, type = "response"))
p0 <- as.numeric(predict(m0, newdata = survey_data, type = "response"))
mu1 <- sum(w * (p1 + treated * (y - p1) / ec)) / sum(w)
mu0 <- sum(w * (p0 + (!treated) * (y - p0) / (1 - ec))) / sum(w)
put("aipw", "mean over w of m1 + T(y - m1)/e minus m0 + (1-T)(y - m0)/(1-e); m_g from svyglm on subset(des, exposure_any == g)",
    effect = mu1 - mu0, means = c(mu0, mu1))

# ---------------------------------------------------------------------------------------------
# Pre/post quiz: pairs of codes seen once in each file with a score in both.

pre <- read.csv(file.path(data_dir, "effect_quiz_pre.csv"), stringsAsFactors = FALSE)
post <- read.csv(file.path(data_dir, "effect_quiz_post.csv"), stringsAsFactors = FALSE)
once <- function(d) d[!(d$participant_code %in% d$participant_code[duplicated(d$participant_code)]), ]
pairs <- merge(once(pre), once(post), by = "participant_code", suffixes = c("_pre", "_post"))
pairs <- pairs[!is.na(pairs$score_pre) & !is.na(pairs$score_post), ]
tt <- t.test(pairs$score_post, pairs$score_pre, paired = TRUE)
n <- nrow(pairs)
change <- pairs$score_post - pairs$score_pre
r <- cor(pairs$score_pre, pairs$score_post)
# Effect sizes written out (Lakens 2013; Borenstein et al. 2009, section 4).
d_z <- mean(change) / sd(change)
d_av <- mean(change) / ((sd(pairs$score_pre) + sd(pairs$score_post)) / 2)
s_within <- sd(change) / sqrt(2 * (1 - r))
d_b <- mean(change) / s_within
v_d <- (1 / n + d_b^2 / (2 * n)) * 2 * (1 - r)
J <- 1 - 3 / (4 * (n - 1) - 1)
g <- J * d_b
g_se <- J * sqrt(v_d)
put("prepost", "t.test(post, pre, paired=TRUE); d_z, d_av, Borenstein g by hand",
    n = n, t = tt$statistic, df = tt$parameter, p = tt$p.value, ci = tt$conf.int,
    mean_change = tt$estimate, correlation = r, d_z = d_z, d_av = d_av, g = g, g_se = g_se,
    g_ci = g + c(-1, 1) * qnorm(0.975) * g_se)
items <- paste0("q", 1:5)
b <- sapply(items, function(q) sum(pairs[[paste0(q, "_pre")]] == 1 & pairs[[paste0(q, "_post")]] == 0))
c_ <- sapply(items, function(q) sum(pairs[[paste0(q, "_pre")]] == 0 & pairs[[paste0(q, "_post")]] == 1))
p_mcnemar <- mapply(function(x, k) if (k > 0) binom.test(x, k)$p.value else NA, c_, b + c_)
put("prepost_items", "percent correct pre/post; binom.test(wrong_to_right, discordant) per item",
    pct_pre = sapply(items, function(q) 100 * mean(pairs[[paste0(q, "_pre")]])),
    pct_post = sapply(items, function(q) 100 * mean(pairs[[paste0(q, "_post")]])),
    right_to_wrong = b, wrong_to_right = c_, mcnemar_p = p_mcnemar)
welch <- t.test(change[pairs$group == "treated"], change[pairs$group == "control"])
put("prepost_did", "t.test(change[treated], change[control]) (Welch)",
    effect = unname(welch$estimate[1] - welch$estimate[2]),
    se = unname((welch$estimate[1] - welch$estimate[2]) / welch$statistic),
    df = welch$parameter, p = welch$p.value, ci = welch$conf.int)

# ---------------------------------------------------------------------------------------------
# Two independent waves, stratified by province.

wave_a <- read.csv(file.path(data_dir, "effect_wave_a.csv"))
wave_b <- read.csv(file.path(data_dir, "effect_wave_b.csv"))
des_a <- svydesign(id = ~psu, strata = ~province, weights = ~weight, data = wave_a)
des_b <- svydesign(id = ~psu, strata = ~province, weights = ~weight, data = wave_b)
na <- svymean(~literacy_index, des_a)
nb <- svymean(~literacy_index, des_b)
put("wave_national", "svymean(~literacy_index, des_b) - svymean(~literacy_index, des_a); se = sqrt(va + vb)",
    change = coef(nb) - coef(na), se = sqrt(SE(na)^2 + SE(nb)^2), df = c(degf(des_a), degf(des_b)))
pa <- svyby(~literacy_index, ~province, des_a, svymean)
pb <- svyby(~literacy_index, ~province, des_b, svymean)
put("wave_province", "svyby(~literacy_index, ~province, des_w, svymean): later minus earlier",
    province = structure(as.character(pa$province), scalar = FALSE),
    change = coef(pb) - coef(pa), se = sqrt(SE(pa)^2 + SE(pb)^2))
ga <- svyglm(literacy_index ~ campaign, design = des_a)
gb <- svyglm(literacy_index ~ campaign, design = des_b)
put("campaign_did", "coef(svyglm(y ~ campaign, des_b))[2] - coef(svyglm(y ~ campaign, des_a))[2]; se = sqrt(sum of variances)",
    effect = coef(gb)[2] - coef(ga)[2],
    se = sqrt(vcov(ga)[2, 2] + vcov(gb)[2, 2]),
    gaps = c(coef(ga)[2], coef(gb)[2]))

# ---------------------------------------------------------------------------------------------
# Power: base R's power.t.test, both rejection regions counted (strict = TRUE).

pw <- function(...) power.t.test(..., sig.level = 0.05, sd = 1, strict = TRUE, tol = 1e-12)
put("power", "power.t.test(..., sig.level=0.05, strict=TRUE, tol=1e-12)",
    mde_n100 = pw(n = 100, power = 0.8)$delta,
    mde_n100_one_sided = pw(n = 100, power = 0.8, alternative = "one.sided")$delta,
    n_d05 = pw(delta = 0.5, power = 0.8)$n,
    n_d02 = pw(delta = 0.2, power = 0.8)$n,
    power_n64_d05 = pw(n = 64, delta = 0.5)$power)

results[["_about"]] <- list(
  survey = structure(as.character(packageVersion("survey")), scalar = TRUE),
  R = structure(paste(R.version$major, R.version$minor, sep = "."), scalar = TRUE)
)
writeLines(json_value(results), file.path(out_dir, "effect_reference_r.json"))
