//! The demo's money half: 免申即享 lists (one confirmed with offers answered and awaiting, one
//! awaiting a second person), a disclosure over and one in its period with an objection, a
//! payment batch exported with its return file (paid rows, a failed one, one awaiting), and a
//! recovery.

use super::demo::DEMO_DEPARTMENT;
use crate::model::{CreditCode, MeasureId, Who};
use crate::service::{Result, Service, ServiceError};
use crate::store::prelude::*;

impl Service {
    /// 免申即享 in the demo: the 人社局's auto measure has a confirmed round (renshe proposed,
    /// renshe2 confirmed) whose offers are partly accepted, one declined, the rest awaiting the
    /// enterprises; the 科技局's awaits a second person. Returns an entity whose offer awaits
    /// its answer, for the demo enterprise to act for.
    pub(super) fn demo_auto_lists(&self) -> Result<Option<CreditCode>> {
        let read = self.store.read()?;
        let who_of =
            |name: &str| -> Result<Option<Who>> { Ok(read.user_by_name(name)?.map(|u| Who::user(&u, "demo"))) };
        let mut awaiting = None;
        for (proposer, confirmer) in [("renshe", Some("renshe2")), ("keji", None)] {
            let Some(p) = who_of(proposer)? else { continue };
            let mut measure = None;
            for m in read.measures()?.into_iter().filter(|m| m.in_force()) {
                let Some(v) = read.published_version(m.id)? else { continue };
                if v.spec.mode == crate::model::Mode::Auto && Some(&v.spec.department) == p.department.as_ref() {
                    measure = Some(m.id);
                    break;
                }
            }
            let Some(measure) = measure else { continue };
            let list = match self.auto_list_propose(&p, MeasureId(measure)) {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!("demo: no auto list for measure {measure}: {e}");
                    continue;
                }
            };
            let Some(c) = confirmer.map(who_of).transpose()?.flatten() else { continue };
            let list = match self.auto_list_confirm(&c, list.list.id) {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!("demo: auto list {} not confirmed: {e}", list.list.id);
                    continue;
                }
            };
            for (i, entry) in
                list.entries.iter().enumerate().filter(|(_, e)| e.case.state == crate::model::case::CaseState::Offered)
            {
                let Ok(code) = CreditCode::parse(&entry.case.credit_code) else { continue };
                let who = Who {
                    name: "企业财务人员".into(),
                    role: Some(crate::model::Role::Enterprise),
                    ip: "demo".into(),
                    entities: vec![code.clone()],
                    ..Who::default()
                };
                match i % 4 {
                    0 | 1 => {
                        let account = format!("6222{:012}", entry.case.entity_id);
                        let _ = self.case_accept(
                            &who,
                            entry.case.id,
                            &entry.case.entity_name,
                            "中国工商银行哈尔滨分行",
                            &account,
                        );
                    }
                    2 if i < 4 => {
                        let _ = self.case_decline(&who, entry.case.id, "本年度不再享受此项资金");
                    }
                    _ => {
                        awaiting.get_or_insert(code);
                    }
                }
            }
        }
        Ok(awaiting)
    }
}

impl Service {
    /// Opens a disclosure of each of the department's measures with approved (or accepted)
    /// cases waiting for it, by `staff`; returns the batch ids.
    pub(super) fn demo_disclose(&self, department: &str, staff: &str) -> Result<Vec<u64>> {
        let read = self.store.read()?;
        let Some(who) = read.user_by_name(staff)?.map(|u| Who::user(&u, "demo")) else { return Ok(Vec::new()) };
        let mut measures = Vec::new();
        for m in read.measures()?.into_iter().filter(|m| m.in_force()) {
            if let Some(v) = read.published_version(m.id)?
                && v.spec.department == department
                && v.spec.publicity_days > 0
            {
                measures.push(m.id);
            }
        }
        drop(read);
        let mut opened = Vec::new();
        for id in measures {
            match self.disclosure_open(&who, MeasureId(id)) {
                Ok(b) => opened.push(b.id),
                Err(ServiceError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(opened)
    }

    /// The money half in the demo, for the 人社局: its payable cases get their accounts and a
    /// payment batch, exported; the return file pays all but the last row (awaiting it) and
    /// fails the first (账号错误); a supervisor opens a recovery on a paid case; the auto
    /// measure's offer accepted today is in disclosure with an objection (`awaiting`: the
    /// entity whose offer is left for the demo enterprise).
    pub(super) fn demo_payments(&self, awaiting: Option<&CreditCode>) -> Result<()> {
        let read = self.store.read()?;
        let staff = |name: &str| -> Result<Option<Who>> { Ok(read.user_by_name(name)?.map(|u| Who::user(&u, "demo"))) };
        let (Some(shenhe), Some(ducha)) = (staff("shenhe")?, staff("ducha")?) else { return Ok(()) };
        let mut payable = Vec::new();
        for m in read.measures()? {
            if read.published_version(m.id)?.is_none_or(|v| v.spec.department != DEMO_DEPARTMENT) {
                continue;
            }
            payable.extend(
                read.cases_of_measure(m.id, 0, 10_000)?
                    .into_iter()
                    .filter(|c| c.state == crate::model::case::CaseState::Payable),
            );
        }
        drop(read);
        for c in &payable {
            let Ok(code) = CreditCode::parse(&c.credit_code) else { continue };
            let who = Who {
                name: "企业财务人员".into(),
                role: Some(crate::model::Role::Enterprise),
                ip: "demo".into(),
                entities: vec![code],
                ..Who::default()
            };
            let account = format!("6227{:012}", c.entity_id);
            let _ = self.case_correct_account(&who, c.id, &c.entity_name, "中国建设银行哈尔滨分行", &account);
        }
        if let Ok(batches) = self.payment_batch_create(&shenhe)
            && let Some(batch) = batches.iter().max_by_key(|b| b.rows)
        {
            self.payment_batch_export(&shenhe, batch.id, crate::import::Format::Xlsx, false)?;
            let view = self.payment_batch(&shenhe, batch.id)?;
            let n = view.rows.len();
            let mut csv = String::from("序号,统一社会信用代码,金额（元）,结果,支付日期,凭证号,失败原因\n");
            let day = self.today().add_days(-1);
            for (i, r) in view.rows.iter().enumerate().take(n.saturating_sub(1)) {
                let amount = crate::model::payment::yuan(r.amount_fen);
                if i == 0 && n > 2 {
                    csv.push_str(&format!("{},{},{amount},支付失败,,,账号错误\n", r.seq, r.credit_code));
                } else {
                    csv.push_str(&format!("{},{},{amount},支付成功,{day},GK{:08},\n", r.seq, r.credit_code, r.case_id));
                }
            }
            if n > 1 {
                self.payment_return_import(&shenhe, batch.id, "财政回单.csv", csv.as_bytes())?;
                let paid = self.payment_batch(&shenhe, batch.id)?.rows.into_iter().find(|r| r.voucher.is_some());
                if let Some(paid) = paid {
                    let input = crate::service::cases::recovery::RecoveryInput {
                        amount_yuan: crate::model::payment::yuan(paid.amount_fen / 2),
                        reason: "经核查，申报时从业人数虚报，多领部分予以追回".into(),
                        deadline: self.today().add_days(30).to_string(),
                        bar_until: String::new(),
                    };
                    let _ = self.recovery_open(&ducha, paid.case_id, &input);
                }
            }
        }
        // One more offer accepted today, disclosed now, with an objection.
        let read = self.store.read()?;
        let mut offered = None;
        for m in read.measures()? {
            if read.published_version(m.id)?.is_none_or(|v| v.spec.department != DEMO_DEPARTMENT) {
                continue;
            }
            offered = offered.or(read.cases_of_measure(m.id, 0, 10_000)?.into_iter().find(|c| {
                c.state == crate::model::case::CaseState::Offered
                    && awaiting.is_none_or(|a| a.as_str() != c.credit_code)
            }));
        }
        drop(read);
        if let Some(c) = offered
            && let Ok(code) = CreditCode::parse(&c.credit_code)
        {
            let who = Who {
                name: "企业财务人员".into(),
                role: Some(crate::model::Role::Enterprise),
                ip: "demo".into(),
                entities: vec![code],
                ..Who::default()
            };
            let account = format!("6222{:012}", c.entity_id);
            self.case_accept(&who, c.id, &c.entity_name, "中国工商银行哈尔滨分行", &account)?;
        }
        if let Some(batch) = self.demo_disclose(DEMO_DEPARTMENT, "renshe2")?.first().copied()
            && let Some(row) = self.disclosure_page(batch, 0)?.rows.first()
        {
            let input = crate::model::disclosure::ObjectionInput {
                case_id: row.case_id,
                name: "王建国".into(),
                phone: "13904510000".into(),
                relation: "competitor".into(),
                facts: "据了解该企业上年度已大幅裁员，裁员率不符合稳岗返还条件，请予核查。".into(),
            };
            self.objection_file(&Who { name: "公众".into(), ip: "demo".into(), ..Who::default() }, batch, &input)?;
        }
        Ok(())
    }
}
