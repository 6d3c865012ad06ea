#!/usr/bin/env python3
"""Writes the synthetic EMIS Open extracts of practice A99902 (deterministic).

Run from this folder: python3 gen.py. Element order follows EomMedicalRecord38.xsd.
Every free-text field carries a FREETEXT-<suffix> marker; no output may show one
(dosage and quantity text aside).
"""
import random

NS = "http://www.e-mis.com/emisopen/MedicalRecord"
seq = [0]


def ft(tag):
    seq[0] += 1
    return "FREETEXT-%s-%d" % (tag, seq[0])


def code(value, scheme, term, mapcode=None, mapscheme="SNOMED", tag="Code"):
    s = "<%s><Value>%s</Value><Scheme>%s</Scheme><Term>%s</Term>" % (tag, value, scheme, term)
    if mapcode:
        s += "<MapCode>%s</MapCode><MapScheme>%s</MapScheme>" % (mapcode, mapscheme)
    return s + "</%s>" % tag


def event(guid, date, c, datepart=None, time=None, author=1, etype=1, problem=None, links=(),
          value=None, group=None, abnormal=None, text=True, policy=None, termid=None, qualifiers="", linkxml=""):
    s = "<Event><RefID>%d</RefID><GUID>%s</GUID>" % (abs(hash(guid)) % 100000, guid) if False else "<Event><GUID>%s</GUID>" % guid
    if date is not None:
        s += "<AssignedDate>%s</AssignedDate>" % date
    if datepart is not None:
        s += "<DatePart>%s</DatePart>" % datepart
    if time:
        s += "<AssignedTime>%s</AssignedTime>" % time
    if author:
        s += "<AuthorID><RefID>%d</RefID></AuthorID>" % author
    s += "<OriginalAuthor><User><RefID>%d</RefID></User><SystemDate>%s</SystemDate></OriginalAuthor>" % (author if author and author > 0 else 1, (date if date and date.count("/") == 2 else "01/01/2020") + " 12:00:00")
    if text:
        s += "<DisplayTerm>%s</DisplayTerm><DescriptiveText>%s</DescriptiveText>" % (ft("display"), ft("desc"))
    if policy is not None:
        s += "<PolicyID>%d</PolicyID>" % policy
    s += c
    if termid:
        s += "<TermID><Value>%s</Value><Scheme>SNOMED</Scheme></TermID>" % termid
    if qualifiers:
        s += "<QualifierList>" + qualifiers + "</QualifierList>"
    if problem:
        s += "<Problem>" + problem + "</Problem>"
    if links or linkxml:
        s += "<ProblemLinkList>" + "".join("<Link><Target><GUID>%s</GUID></Target><LinkType>0</LinkType></Link>" % l for l in links) + linkxml + "</ProblemLinkList>"
    if group:
        s += "<GroupID>%s</GroupID>" % group
    if value:
        s += "<NumericValue>" + value + "</NumericValue>"
    if abnormal is not None:
        s += "<Abnormal>%d</Abnormal>" % abnormal
    s += "<EventType>%d</EventType>" % etype
    return s + "</Event>"


def num(v, units, lo=None, hi=None, op=None):
    s = ""
    if op:
        s += "<Operator>%s</Operator>" % op
    s += "<Value>%s</Value><Units>%s</Units>" % (v, units)
    if lo is not None:
        s += "<NumericMinimum>%s</NumericMinimum>" % lo
    if hi is not None:
        s += "<NumericMaximum>%s</NumericMaximum>" % hi
    return s


def medication(guid, date, drug, dosage, qty, units, ptype, status, tag="Medication", repeats=None,
               issued=None, duration=None, expire=None, link=None, rep=None, extra=""):
    s = "<%s><GUID>%s</GUID><AuthorisedUserID><RefID>1</RefID></AuthorisedUserID>" % (tag, guid)
    s += "<AssignedDate>%s</AssignedDate>" % date
    if expire:
        s += "<DateRxExpire>%s</DateRxExpire>" % expire
    s += "<Dosage>%s</Dosage><Quantity>%s</Quantity><QuantityUnits>%s</QuantityUnits>" % (dosage, qty, units)
    if rep:
        s += "<QuantityRepresentation>%s</QuantityRepresentation>" % rep
    if duration:
        s += "<Duration>%d</Duration>" % duration
    s += "<Drug>%s</Drug>" % drug
    s += "<PrescriptionType>%s</PrescriptionType>" % ptype
    s += "<DrugSource>%s</DrugSource><PharmacyText>%s</PharmacyText><RxText>%s</RxText>" % (ft("source"), ft("pharmacy"), ft("rxtext"))
    if repeats is not None:
        s += "<AuthorisedIssue>%d</AuthorisedIssue>" % repeats
    if issued is not None:
        s += "<IssueCount>%d</IssueCount>" % issued
    if tag == "Medication":
        s += "<Status>%s</Status>" % status
    s += "<Advice>%s</Advice>" % ft("advice")
    s += extra
    if tag == "Issue":
        s += "<Comment>%s</Comment><IssuerID><RefID>1</RefID></IssuerID>" % ft("issuecomment")
        if link:
            s += "<MedicationLink><GUID>%s</GUID></MedicationLink>" % link
    return s + "</%s>" % tag


METFORMIN = code(12345, "EMISPREPARATION", "Metformin 500mg tablets", 325278007, "SNOMED", tag="PreparationID")
AMOXICILLIN = code(23456, "EMISPREPARATION", "Amoxicillin 500mg capsules", 323509004, "SNOMED", tag="PreparationID")
RAMIPRIL = code(34567, "EMISPREPARATION", "Ramipril 5mg capsules", 318907005, "SNOMED", tag="PreparationID")


def registration(nhs, family, given, dob, sex, title="Mrs", address=True):
    s = "<Registration><GUID>REG-%s</GUID><DateOfBirth>%s</DateOfBirth><Sex>%s</Sex>" % (nhs, dob, sex)
    s += "<PreviousNames>%s</PreviousNames><FamilyName>%s</FamilyName><CallingName>%s</CallingName>" % (ft("prevname"), family, ft("calling"))
    s += "<FirstNames>%s</FirstNames><Title>%s</Title><NhsNumber>%s</NhsNumber>" % (given, title, nhs)
    if address:
        s += ("<Address><HouseNameFlat>1</HouseNameFlat><Street>Test Street</Street><Town>Leeds</Town>"
              "<County>West Yorkshire</County><PostCode>LS1 1AA</PostCode></Address>")
    s += "<RegisteredGpID><RefID>1</RefID></RegisteredGpID><DateAdded>01/01/1990</DateAdded>"
    s += "<CustomRegistrationFields><CustomRegistrationEntry><FieldName>%s</FieldName><FieldValue>%s</FieldValue></CustomRegistrationEntry></CustomRegistrationFields>" % (ft("fieldname"), ft("fieldvalue"))
    s += "<ScreenMessage>%s</ScreenMessage>" % ft("screen")
    return s + "</Registration><MiscellaneousData><MedicationMessage>%s</MedicationMessage></MiscellaneousData>" % ft("medmsg")


def tail(created="26/11/2026"):
    s = ("<PeopleList><Person><RefID>1</RefID><GUID>P-GP-1</GUID><Mnemonic>%s</Mnemonic><Title>Dr</Title>"
         "<FirstNames>Grace</FirstNames><LastName>Practitioner</LastName>"
         "<Category><Mnemonic>PR</Mnemonic><Description>%s</Description></Category>"
         "<NationalCode>G9999998</NationalCode></Person></PeopleList>") % (ft("mnemonic"), ft("category"))
    s += ("<LocationList><Location><RefID>1</RefID><GUID>L-PRACTICE</GUID><LocationName>%s</LocationName>"
          "<NationalCode>A99902</NationalCode><Contact>%s</Contact></Location>"
          "<Location><RefID>2</RefID><GUID>L-HOSPITAL</GUID><LocationName>%s</LocationName>"
          "<NationalCode>RR8</NationalCode></Location></LocationList>") % (ft("locname"), ft("contact"), ft("locname"))
    s += "<Originator><System><Name>EMIS Web</Name></System><Organisation><RefID>1</RefID></Organisation></Originator>"
    s += "<MessageInformation><DateCreated>%s</DateCreated><TimeCreated>09:00:00</TimeCreated></MessageInformation>" % created
    return s


def doc(body):
    return '<?xml version="1.0" encoding="UTF-8"?>\n<MedicalRecord xmlns="%s">%s</MedicalRecord>\n' % (NS, body)


def consent(guid, date, given=True):
    if given:
        return event(guid, date, code("9Nd7.", "READ2", "Consent given for electronic record sharing", 887031000000108), etype=1)
    return event(guid, date, code("9Nd1.", "READ2", "No consent for electronic record sharing", 887051000000101), etype=1)


def notelist():
    return ("<NoteList><Note><GUID>NOTE-1</GUID><AssignedDate>01/02/2026</AssignedDate>"
            "<NoteText>%s</NoteText></Note></NoteList>") % ft("note")


def story():
    """9990002002: the equivalence story (ARCHITECTURE.md), items 1-16."""
    ev = [
        consent("E2-CONSENT", "06/01/2020"),
        event("E2-DIABETES", "01/05/2012", code("C10F.", "READ2", "Type 2 diabetes mellitus", 44054006), etype=2,
              problem="<ProblemStatus>1</ProblemStatus><Significance>1</Significance>"),
        event("E2-FRACTURE", "10/02/2015", code("S23..", "READ2", "Fracture of lower end of radius", 263199001), etype=2,
              problem="<ProblemStatus>0</ProblemStatus><EndDate>01/06/2015</EndDate><EndDatePart>0</EndDatePart><Significance>2</Significance>"),
        event("E2-APPENDIX", "20/07/2010", code("7611.", "READ2", "Emergency excision of appendix", 80146002)),
        event("E2-PALLIATIVE", "01/06/2026", code("8CM1.", "READ2", "On gold standards palliative care framework", 414937009)),
        event("E2-FLU", "05/10/2026", code("65E..", "READ2", "Influenza vaccination", 86198006), etype=13),
        # 15: a result in the laboratory's own unit, on no list: value kept, unit marked absent
        event("E2-CHOLESTEROL", "20/08/2026", code("44P..", "READ2", "Serum cholesterol", 1005671000000105),
              value=num("5.2", ft("labunit")), etype=5),
        # 16: the mother's type 2 diabetes (EventType 12, family history): never the patient's own
        event("E2-FH-MOTHER", "03/09/2018", code("C10F.", "READ2", "Type 2 diabetes mellitus", 44054006), etype=12),
    ]
    cons = ("<ConsultationList><Consultation><GUID>C2-CONSULT</GUID><AssignedDate>15/09/2026 10:30:00</AssignedDate>"
            "<DatePart>4</DatePart><UserID><RefID>1</RefID></UserID><ExternalConsultant>%s</ExternalConsultant>"
            "<LocationID><RefID>1</RefID></LocationID><ConsultationType>0</ConsultationType><ElementList>" % ft("extconsultant"))
    elems = [
        event("E2-SYS", "15/09/2026", code("2469.", "READ2", "O/E - Systolic BP reading", 72313002), time="10:35",
              group=7, value=num(142, "mmHg"), etype=5, links=["E2-DIABETES"]),
        event("E2-DIA", "15/09/2026", code("246A.", "READ2", "O/E - Diastolic BP reading", 1091811000000102), time="10:35",
              group=7, value=num(88, "mmHg"), etype=5),
        event("E2-HBA1C", "15/09/2026", code("42W5.", "READ2", "Haemoglobin A1c level - IFCC standardised", 999791000000106),
              value=num(58, "mmol/mol", 20, 41), abnormal=1, etype=5, links=["E2-DIABETES"]),
        event("E2-COMMENT", "15/09/2026", code("EMISNQCO303", "EMISCLINICAL", ft("localterm")), etype=0),
        ("<Referral><GUID>R2-DIABETOLOGY</GUID><AssignedDate>15/09/2026</AssignedDate><AuthorID><RefID>1</RefID></AuthorID>"
         "<DescriptiveText>%s</DescriptiveText>%s<Provider><RefID>2</RefID></Provider><ReferralReason>%s</ReferralReason>"
         "<Urgency>0</Urgency><ReferralRef>%s</ReferralRef></Referral>") % (
            ft("refdesc"), code("8H4E.", "READ2", "Referral to diabetologist", 183530004), ft("reason"), ft("refref")),
    ]
    for i, el in enumerate(elems):
        cons += "<ConsultationElement><GUID>CE2-%d</GUID><DisplayOrder>%d</DisplayOrder><Header><Value>1</Value><Term>%s</Term></Header>%s</ConsultationElement>" % (i, i, ft("header"), el)
    cons += "</ElementList></Consultation></ConsultationList>"
    allergy = ("<AllergyList><Allergy><GUID>A2-PENICILLIN</GUID><AssignedDate>02/05/2001</AssignedDate>"
               "<AuthorID><RefID>1</RefID></AuthorID><DescriptiveText>%s</DescriptiveText>%s"
               "<AllergyType>1</AllergyType>%s</Allergy>"
               # 14: the drug allergy heading, the allergen an EMIS drug name with no map (coded only locally)
               "<Allergy><GUID>A2-LOCALDRUG</GUID><AssignedDate>16/04/2018</AssignedDate>"
               "<AuthorID><RefID>1</RefID></AuthorID><DescriptiveText>%s</DescriptiveText>%s"
               "<AllergyType>2</AllergyType>%s</Allergy></AllergyList>") % (
        ft("allergydesc"), code("14L2.", "READ2", "H/O: penicillin allergy", 91936005),
        code("PEN1", "EMISDRUGGROUP", ft("druggroup"), tag="Codes"),
        ft("allergydesc"), code("14L..", "READ2", "H/O: drug allergy", 416098002),
        code("60606", "EMISDRUGNAME", ft("drugname"), tag="Codes"))
    meds = "<MedicationList>" + medication(
        "M2-METFORMIN", "10/01/2024", METFORMIN, "one tablet twice daily", 56, "tablet", "REPEAT", "C", repeats=6, issued=2,
        extra="<ProblemLinkList><Link><Target><GUID>E2-DIABETES</GUID></Target><LinkType>0</LinkType></Link></ProblemLinkList>") + medication(
        "M2-AMOXICILLIN", "01/03/2025", AMOXICILLIN, "one capsule three times a day", 21, "capsule", "ACUTE", "P", duration=7) + "</MedicationList>"
    issues = "<IssueList>" + "".join([
        medication("I2-MET-1", "01/10/2026", METFORMIN, "one tablet twice daily", 56, "tablet", "REPEAT", "", tag="Issue", link="M2-METFORMIN"),
        medication("I2-MET-2", "01/11/2026", METFORMIN, "one tablet twice daily", 56, "tablet", "REPEAT", "", tag="Issue", link="M2-METFORMIN"),
        medication("I2-AMOX-1", "01/03/2025", AMOXICILLIN, "one capsule three times a day", 21, "capsule", "ACUTE", "", tag="Issue", link="M2-AMOXICILLIN"),
    ]) + "</IssueList>"
    return doc(registration("9990002002", "Emis", "Ann", "14/03/1950", "F") + "<EventList>" + "".join(ev) + "</EventList>"
               + cons + allergy + meds + issues + notelist() + tail())


def everything():
    """9990002010: every entry kind, every date precision, optional elements missing, odd codes."""
    ev = [
        consent("E10-CONSENT", "12/03/2019"),
        event("E10-ASTHMA", "03/2005", code("H33..", "READ2", "Asthma", 195967001), datepart=1, etype=2,
              problem="<ProblemStatus>1</ProblemStatus><Significance>2</Significance>"),
        event("E10-YEARONLY", "1998", code("7L1H.", "READ2", "Tonsillectomy"), datepart=2),
        event("E10-UNKNOWNDATE", "", code("J11..", "READ2", "Gastric ulcer", 397825006), datepart=3),
        event("E10-WITHSECONDS", "04/04/2021 08:15:30", code("44P..", "READ2", "Serum cholesterol", 1005671000000105), datepart=4,
              value=num("5.2", "mmol/L", hi="5", op="")),
        event("E10-MINUTES", "04/04/2021", code("44J3.", "READ2", "Serum creatinine", 1000731000000107), time="08:20",
              value=num("about 30", "umol/L")),
        event("E10-LESSTHAN", "04/04/2021", code("42Q5.", "READ2", "D-dimer level"), time="08:20",
              value=num("0.1", "mg/L", op="&lt;")),
        event("E10-BADDATE", "31/02/2021", code("G30..", "READ2", "Acute myocardial infarction", 57054005)),
        event("E10-NOVALUEUNITS", "05/05/2022", code("22K..", "READ2", "Body Mass Index", 60621009), value="<Value>24.1</Value>"),
        event("E10-SYS-ONLY", "06/06/2022", code("2469.", "READ2", "O/E - Systolic BP reading"), time="09:00", value=num(130, "mm Hg")),
        event("E10-SYS-2", "07/07/2022", code("246N.", "READ2", "Standing systolic BP"), time="09:00", value=num(125, "mmHg")),
        event("E10-DIA-2", "07/07/2022", code("246P.", "READ2", "Standing diastolic BP"), time="09:00", value=num(80, "mmHg")),
        event("E10-UNKNOWNNATIONAL", "08/08/2022", code("9999991000000104", "SNOMED", "An unknown concept")),
        event("E10-LOCALNOMAP", "09/09/2022", code("EMISNQAB12", "EMISCLINICAL", ft("localterm"))),
        event("E10-LOCALMAPPED", "09/09/2022", code("EMISNQHE3", "EMISCLINICAL", ft("localterm"), 1240581000000104)),
        event("E10-LOCALASREAD", "09/09/2022", code("^ESCTAB123", "READ2", ft("localterm"))),
        event("E10-NOCODE", "09/09/2022", ""),
        event("E10-IMM-CODE", "10/10/2022", code("65ED.", "READ2", "Seasonal influenza vaccination", 822851000000102), author=None, text=False),
        event("E10-ADMISSION", "11/11/2022", code("8H2..", "READ2", "Emergency hospital admission", 183452005)),
        event("E10-REF-EVENT", "12/11/2022", code("8H7..", "READ2", "Other referral", 3457005), etype=8),
        event("E10-ALLERGY-EVENT", "13/11/2022", code("14L4.", "READ2", "H/O: aspirin allergy", 293586001), etype=11),
        event("E10-ALERT-EVENT", "14/11/2022", code("13Zu.", "READ2", "Violent patient"), etype=10),
        event("E10-ASTHMA-REVIEW", "15/11/2022", code("663U.", "READ2", "Asthma management plan given", 406162001), links=["E10-ASTHMA"]),
        event("E10-DNACPR", "16/11/2022", code("1R1..", "READ2", "Not for resuscitation", 304253006)),
        event("E10-GALLSTONES", "2010", code("J661.", "READ2", "Cholelithiasis", 235919008), datepart=2, etype=2,
              problem="<ProblemStatus>0</ProblemStatus><EndDate>2011</EndDate><EndDatePart>2</EndDatePart>"),
        event("E10-HEALTHADMIN", "17/11/2022", code("9OX..", "READ2", "Health admin", 185317003), etype=2,
              problem="<ProblemStatus>2</ProblemStatus>"),
    ]
    cons = ("<ConsultationList><Consultation><GUID>C10-MONTHONLY</GUID><AssignedDate>01/2023</AssignedDate><DatePart>1</DatePart>"
            "<ElementList><ConsultationElement><GUID>CE10-1</GUID>%s</ConsultationElement>"
            "<ConsultationElement><GUID>CE10-2</GUID>%s</ConsultationElement>"
            "<ConsultationElement><GUID>CE10-3</GUID>%s</ConsultationElement>"
            "<ConsultationElement><GUID>CE10-4</GUID><Attachment><GUID>ATT-1</GUID><Title>%s</Title><Address>%s</Address></Attachment></ConsultationElement>"
            "</ElementList></Consultation>"
            "<Consultation><RefID>77</RefID><AssignedDate>02/02/2023</AssignedDate><LocationID><RefID>2</RefID></LocationID></Consultation>"
            "</ConsultationList>") % (
        event("E10-INCONS", "01/2023", code("F4K..", "READ2", "Hordeolum externum", 1631000119103), datepart=1),
        medication("M10-INCONS", "15/01/2023", RAMIPRIL, "one daily", 28, "capsule", "ACUTE", "C"),
        ("<Investigation><GUID>INV10-FBC</GUID><DisplayTerm>%s</DisplayTerm>%s<Abnormal>1</Abnormal><DataType>LAB</DataType>"
         "<UserComment>%s</UserComment><AssignedDate>20/01/2023</AssignedDate><DescriptiveText>%s</DescriptiveText><EventList>%s%s</EventList></Investigation>") % (
            ft("labrubric"), code("424..", "READ2", "Full blood count", 26604007), ft("usercomment"), ft("invdesc"),
            event("E10-HB", "20/01/2023", code("423..", "READ2", "Haemoglobin estimation", 1022431000000105), value=num(98, "g/L", 115, 165), abnormal=1),
            event("E10-WCC", "20/01/2023", code("42H..", "READ2", "Total white cell count", 1022541000000102), value=num("6.1", "10*9/L", 4, 11))),
        ft("attachtitle"), ft("attachaddress"))
    inv = ("<InvestigationList><Investigation><GUID>INV10-NOCODE</GUID><DisplayTerm>%s</DisplayTerm><DataType>MAN</DataType>"
           "<AssignedDate>21/01/2023</AssignedDate><EventList>%s</EventList></Investigation></InvestigationList>") % (
        ft("labrubric"), event("E10-TSH", "21/01/2023", code("442W.", "READ2", "Serum TSH level", 1022791000000101), value=num("2.5", "mU/L", "0.3", "4.2")))
    refs = ("<ReferralList><Referral><RefID>5</RefID><AssignedDate>03/03/2023</AssignedDate>%s"
            "<Provider><GUID>L-HOSPITAL</GUID></Provider><Speciality><Value>300</Value><Scheme>EMISCLINICAL</Scheme><Term>%s</Term></Speciality>"
            "<ReferralReason>%s</ReferralReason><Urgency>2</Urgency><ReasonTerm><Value>X</Value><Term>%s</Term></ReasonTerm>"
            "<SourceDescription>%s</SourceDescription><RejectionReason>%s</RejectionReason></Referral>"
            "<Referral><GUID>R10-NOURGENCY</GUID><AssignedDate>04/03/2023</AssignedDate>%s</Referral></ReferralList>") % (
        code("8H44.", "READ2", "Referral to cardiologist", 183519002), ft("specialty"), ft("reason"), ft("reasonterm"), ft("srcdesc"), ft("rejection"),
        code("8HT5.", "READ2", "Referral to medical clinic"))
    allergies = ("<AllergyList>"
                 "<Allergy><GUID>A10-NKA</GUID><AssignedDate>01/01/2015</AssignedDate>%s</Allergy>"
                 "<Allergy><GUID>A10-LATEX</GUID><AssignedDate>2012</AssignedDate><DatePart>2</DatePart>%s<AllergyType>0</AllergyType>"
                 "<Codes><Value>1</Value><Scheme>EMISNONDRUGALLERGY</Scheme><Term>%s</Term></Codes></Allergy>"
                 "<Allergy><GUID>A10-PAST</GUID><AssignedDate>01/01/2000</AssignedDate>%s"
                 "<Problem><ProblemStatus>0</ProblemStatus><EndDate>01/01/2005</EndDate></Problem><AllergyType>2</AllergyType>"
                 "<Codes><Value>45678</Value><Scheme>EMISDRUGNAME</Scheme><Term>%s</Term><MapCode>387207008</MapCode><MapScheme>SNOMED</MapScheme></Codes>"
                 "<Exclude>%s</Exclude></Allergy>"
                 "</AllergyList>") % (
        code("EMISNQNO5", "EMISCLINICAL", ft("localterm"), 716186003), code("14M2.", "READ2", "H/O: latex allergy", 300916003), ft("nondrug"),
        code("14L3.", "READ2", "H/O: ibuprofen allergy", 293619005), ft("drugname"), ft("exclude"))
    meds = "<MedicationList>" + "".join([
        medication("M10-DISPENSING", "01/02/2020", RAMIPRIL, "one each morning", 28, "capsule", "REPEAT", "C", repeats=12, issued=3,
                   rep="28 capsules", extra="<ServiceType>A</ServiceType>"),
        medication("M10-STOPPED", "01/03/2020", AMOXICILLIN, "one three times a day", 15, "capsule", "ACUTE", "N", expire="03/03/2020"),
        medication("M10-AUTOMATIC", "01/04/2020", METFORMIN, "FREETEXT-DOSAGE-1 as directed", 112, "tablet", "AUTOMATIC", "P", expire="01/04/2021"),
        medication("M10-NOMAP", "01/05/2020", code(99999, "EMISPREPARATION", ft("localdrug"), tag="PreparationID"), "one daily", "notanumber", "tablet", "", "R"),
        ("<Medication><GUID>M10-MIXTURE</GUID><AssignedDate>01/06/2020</AssignedDate><Drug><Mixture><LocalMixture><RefID>1</RefID></LocalMixture>"
         "<MixtureName>%s</MixtureName><Constituents><PreparationID><Value>1</Value></PreparationID></Constituents></Mixture></Drug></Medication>") % ft("mixture"),
    ]) + "</MedicationList>"
    issues = "<IssueList>" + "".join([
        medication("I10-DISP-1", "01/03/2020", RAMIPRIL, "one each morning", 28, "capsule", "REPEAT", "", tag="Issue", link="M10-DISPENSING"),
        medication("I10-ORPHAN", "01/04/2020", RAMIPRIL, "one each morning", 28, "capsule", "REPEAT", "", tag="Issue", link="NOT-IN-EXTRACT"),
        medication("I10-NOLINK", "02/03/2020", AMOXICILLIN, "one three times a day", 15, "capsule", "ACUTE", "", tag="Issue"),
    ]) + "</IssueList>"
    alerts = ("<AlertList><Alert><GUID>AL10-SAFEGUARD</GUID><AssignedDate>05/05/2021</AssignedDate><DescriptiveText>%s</DescriptiveText>%s<Book>1</Book></Alert>"
              "<Alert><GUID>AL10-LOCAL</GUID><AssignedDate>05/05/2021</AssignedDate>%s</Alert></AlertList>") % (
        ft("alert"), code("13If.", "READ2", "Child is cause for concern"), code("EMISALERT1", "EMISCLINICAL", ft("localterm")))
    diary = "<DiaryList><Diary><GUID>D10</GUID><AssignedDate>01/01/2027</AssignedDate>%s<Reminder>%s</Reminder></Diary></DiaryList>" % (
        code("9N4..", "READ2", "Failed encounter"), ft("diary"))
    unknown = "<FutureSection xmlns=\"urn:example:other\"><Thing>%s</Thing></FutureSection>" % ft("unknownelement")
    return doc(registration("9990002010", "Everything", "Edward James", "02/02/1970", "M", title="Mr")
               + "<EventList>" + "".join(ev) + "</EventList>" + cons + inv + refs + allergies + meds + issues
               + "<AttachmentList/>" + diary + alerts + unknown + notelist() + tail())


def noconsent():
    """9990002029: no consent to share recorded."""
    ev = [event("E29-HTN", "01/01/2018", code("G20..", "READ2", "Essential hypertension", 59621000), etype=2,
                problem="<ProblemStatus>1</ProblemStatus>"),
          event("E29-SYS", "02/02/2024", code("2469.", "READ2", "O/E - Systolic BP reading", 72313002), time="10:00", value=num(150, "mmHg")),
          event("E29-DIA", "02/02/2024", code("246A.", "READ2", "O/E - Diastolic BP reading", 1091811000000102), time="10:00", value=num(95, "mmHg"))]
    return doc(registration("9990002029", "Noconsent", "Nora", "05/05/1960", "F", title="Ms") + "<EventList>" + "".join(ev) + "</EventList>"
               + "<MedicationList>" + medication("M29-RAMIPRIL", "01/01/2018", RAMIPRIL, "one daily", 28, "capsule", "REPEAT", "C", repeats=6) + "</MedicationList>"
               + notelist() + tail())


def dissent():
    """9990002037: consent 2019, then dissent 9Nd1. in 2024."""
    ev = [consent("E37-CONSENT", "01/03/2019"),
          event("E37-ASTHMA", "01/01/2010", code("H33..", "READ2", "Asthma", 195967001), etype=2, problem="<ProblemStatus>1</ProblemStatus>"),
          consent("E37-DISSENT", "01/03/2024", given=False)]
    return doc(registration("9990002037", "Dissent", "Dan", "07/07/1975", "M", title="Mr") + "<EventList>" + "".join(ev) + "</EventList>"
               + notelist() + tail())


def large():
    """9990002045: consent; about 150 entries over 15 years (2011-2026)."""
    rnd = random.Random(45)
    ev = [consent("E45-CONSENT", "02/01/2012"),
          event("E45-DIABETES", "01/03/2011", code("C10F.", "READ2", "Type 2 diabetes mellitus", 44054006), etype=2,
                problem="<ProblemStatus>1</ProblemStatus><Significance>1</Significance>")]
    cons, meds, issues = [], [], []
    meds.append(medication("M45-METFORMIN", "01/03/2011", METFORMIN, "one tablet twice daily", 56, "tablet", "REPEAT", "C", repeats=12, issued=60))
    n = 0
    for year in range(2011, 2026):
        for q in range(3):
            n += 1
            day = "%02d/%02d/%d" % (rnd.randint(1, 28), 1 + q * 4 + rnd.randint(0, 3), year)
            els = [
                event("E45-SYS-%d" % n, day, code("2469.", "READ2", "O/E - Systolic BP reading", 72313002), time="09:%02d" % (10 + q), group=n,
                      value=num(rnd.randint(120, 160), "mmHg"), etype=5, links=["E45-DIABETES"]),
                event("E45-DIA-%d" % n, day, code("246A.", "READ2", "O/E - Diastolic BP reading", 1091811000000102), time="09:%02d" % (10 + q), group=n,
                      value=num(rnd.randint(70, 99), "mmHg"), etype=5),
                event("E45-HBA1C-%d" % n, day, code("42W5.", "READ2", "Haemoglobin A1c level - IFCC standardised", 999791000000106),
                      value=num(rnd.randint(40, 75), "mmol/mol", 20, 41), etype=5, links=["E45-DIABETES"]),
            ]
            body = "".join("<ConsultationElement><GUID>CE45-%d-%d</GUID>%s</ConsultationElement>" % (n, i, e) for i, e in enumerate(els))
            cons.append("<Consultation><GUID>C45-%d</GUID><AssignedDate>%s 09:00:00</AssignedDate><DatePart>4</DatePart>"
                        "<UserID><RefID>1</RefID></UserID><LocationID><RefID>1</RefID></LocationID><ElementList>%s</ElementList></Consultation>" % (n, day, body))
            issues.append(medication("I45-MET-%d" % n, day, METFORMIN, "one tablet twice daily", 56, "tablet", "REPEAT", "", tag="Issue", link="M45-METFORMIN"))
        ev.append(event("E45-FLU-%d" % year, "10/10/%d" % year, code("65E..", "READ2", "Influenza vaccination", 86198006), etype=13))
    return doc(registration("9990002045", "Large", "Lara", "09/09/1955", "F") + "<EventList>" + "".join(ev) + "</EventList>"
               + "<ConsultationList>" + "".join(cons) + "</ConsultationList>"
               + "<MedicationList>" + "".join(meds) + "</MedicationList><IssueList>" + "".join(issues) + "</IssueList>"
               + notelist() + tail())


def small():
    """9990002053: consent; a small record."""
    ev = [consent("E53-CONSENT", "15/06/2023"),
          event("E53-ECZEMA", "01/02/2022", code("M111.", "READ2", "Atopic dermatitis/eczema", 24079001))]
    return doc(registration("9990002053", "Small", "Sam", "10/10/2000", "M", title="Mr", address=False)
               + "<EventList>" + "".join(ev) + "</EventList>"
               + "<AllergyList><Allergy><GUID>A53-NKA</GUID><AssignedDate>15/06/2023</AssignedDate>%s</Allergy></AllergyList>" % code("1151.", "READ2", "No known allergies", 716186003)
               + notelist() + tail())


def realshapes():
    """9990002061: the shapes of a real EMIS Open record. Every item carries
    <PolicyID>-1</PolicyID> (EMIS's null link: no policy) and -1 in unset
    links; a few carry a positive policy (withheld, with what links to them)."""
    NULL = -1
    nolink = "<Link><Target><RefID>-1</RefID></Target><LinkType>0</LinkType></Link>"
    ev = [
        consent("E61-CONSENT", "02/02/2021").replace("<Code>", "<PolicyID>-1</PolicyID><Code>", 1),
        event("E61-ASTHMA", "04/05/2015", code("H33..", "READ2", "Asthma", 195967001), etype=2, policy=NULL,
              problem="<ProblemStatus>1</ProblemStatus><EndDatePart>-1</EndDatePart><Significance>1</Significance><ParentProblem><RefID>-1</RefID></ParentProblem>",
              linkxml=nolink),
        # a positive policy: withheld
        event("E61-SECRET", "05/05/2020", code("E200.", "READ2", "Anxiety states", 197480006), policy=5),
        # date-only values in British Summer Time stay on their day
        event("E61-BST-DAY", "30/06/2026", code("H06z0", "READ2", "Chest infection NOS", 275498002), datepart=0, policy=NULL, links=["E61-ASTHMA"]),
        event("E61-BST-MIDNIGHT", "01/07/2026 00:00:00", code("M03z0", "READ2", "Cellulitis NOS", 128045006), datepart=0, policy=NULL),
        event("E61-BST-MIDNIGHT-TIME", "02/07/2026", code("J10y4", "READ2", "Gastritis", 4556007), datepart=0, time="00:00", policy=NULL),
        event("E61-BST-TIME", "03/07/2026", code("F4C0.", "READ2", "Acute conjunctivitis", 9826008), datepart=0, time="00:30", policy=NULL),
        event("E61-MONTH", "07/2003", code("7L1H.", "READ2", "Tonsillectomy"), datepart=1, policy=NULL),
        event("E61-YEAR", "1999", code("S23..", "READ2", "Fracture of lower end of radius", 263199001), datepart=2, policy=NULL),
        # blood pressure halves with GroupID -1 on different days: no group, never paired
        event("E61-SYS-ALONE", "01/02/2026", code("2469.", "READ2", "O/E - Systolic BP reading", 72313002), time="09:00",
              group=NULL, value=num(128, "mmHg"), etype=5, policy=NULL),
        event("E61-DIA-ALONE", "03/03/2026", code("246A.", "READ2", "O/E - Diastolic BP reading", 1091811000000102), time="10:00",
              group=NULL, value=num(82, "mmHg"), etype=5, policy=NULL),
        # SNOMED: a description id sent as the code; a concept with its description id in TermID
        event("E61-DESC-AS-CODE", "04/04/2024", code("9900612013", "SNOMED", "Synthetic description"), policy=NULL),
        event("E61-TERMID", "05/04/2024", code("195967001", "SNOMED", "Asthma"), policy=NULL, termid="9900614112"),
        # about relatives: EventType 12, a family history code, a family-member qualifier
        event("E61-FH-EVENTTYPE", "06/04/2024", code("G30..", "READ2", "Acute myocardial infarction", 57054005), etype=12, policy=NULL),
        event("E61-FH-CODE", "07/04/2024", code("12C..", "READ2", "FH: Ischaemic heart disease"), policy=NULL),
        event("E61-FH-QUALIFIER", "08/04/2024", code("C10F.", "READ2", "Type 2 diabetes mellitus", 44054006), policy=NULL,
              qualifiers="<Qualifier><QualifierItemID><Value>1</Value><Term>%s</Term></QualifierItemID><Group><Value>1</Value></Group></Qualifier>" % ft("qualifier")),
        event("E61-NOT-FAMILY", "09/04/2024", code("C10F.", "READ2", "Type 2 diabetes mellitus", 44054006), policy=NULL,
              qualifiers="<Qualifier><QualifierItemID><Value>15</Value><Term>%s</Term></QualifierItemID><Group><Value>3</Value></Group></Qualifier>" % ft("qualifier")),
        # an allergy event under the generic drug allergy heading: allergen only in its text
        event("E61-ALLERGY-EVENT", "10/04/2024", code("14L..", "READ2", "H/O: drug allergy", 416098002), etype=11, policy=NULL),
    ]
    # a confidential consultation: it and everything in it are withheld,
    # and the issue of the course it holds
    priv = ("<Consultation><GUID>C61-PRIVATE</GUID><AssignedDate>10/05/2026</AssignedDate><DatePart>0</DatePart>"
            "<UserID><RefID>1</RefID></UserID><LocationID><RefID>1</RefID></LocationID><PolicyID>7</PolicyID><ElementList>")
    for i, el in enumerate([
        event("E61-PRIV-SYS", "10/05/2026", code("2469.", "READ2", "O/E - Systolic BP reading", 72313002), time="11:00", group=11,
              value=num(150, "mmHg"), etype=5, policy=NULL),
        event("E61-PRIV-DIA", "10/05/2026", code("246A.", "READ2", "O/E - Diastolic BP reading", 1091811000000102), time="11:00", group=11,
              value=num(95, "mmHg"), etype=5, policy=NULL),
        medication("M61-PRIV-COURSE", "10/05/2026", AMOXICILLIN,
                   "one capsule three times a day", 21, "capsule", "REPEAT", "C", repeats=3, extra="<PolicyId>-1</PolicyId>"),
    ]):
        priv += "<ConsultationElement><GUID>CE61-P-%d</GUID>%s</ConsultationElement>" % (i, el)
    priv += "</ElementList></Consultation>"
    # an open consultation: policy -1, location and user -1 (no link), a
    # date-only DatePart 0 with a midnight time in the text
    open_ = ("<Consultation><GUID>C61-OPEN</GUID><AssignedDate>15/06/2026 00:00:00</AssignedDate><DatePart>0</DatePart>"
             "<UserID><RefID>-1</RefID></UserID><ExternalConsultant>%s</ExternalConsultant><LocationID><RefID>-1</RefID></LocationID>"
             "<PolicyID>-1</PolicyID><ElementList>") % ft("extconsultant")
    for i, el in enumerate([
        # a pair whose diastolic half is confidential: the pair is withheld
        event("E61-SYS", "15/06/2026", code("2469.", "READ2", "O/E - Systolic BP reading", 72313002), time="09:40", group=4,
              value=num(138, "mmHg"), etype=5, policy=NULL),
        event("E61-DIA", "15/06/2026", code("246A.", "READ2", "O/E - Diastolic BP reading", 1091811000000102), time="09:40", group=4,
              value=num(86, "mmHg"), etype=5, policy=3),
        event("E61-PEFR", "15/06/2026", code("339A.", "READ2", "Peak flow rate"), value=num(420, "L/min"), etype=5, policy=NULL,
              author=NULL, links=["E61-ASTHMA"], linkxml=nolink),
        ("<Referral><GUID>R61-RESP</GUID><AssignedDate>15/06/2026</AssignedDate><DatePart>0</DatePart><AuthorID><RefID>-1</RefID></AuthorID>"
         "<DescriptiveText>%s</DescriptiveText><PolicyID>-1</PolicyID>%s<Provider><RefID>-1</RefID></Provider><ReferralReason>%s</ReferralReason>"
         "<Urgency>0</Urgency></Referral>") % (ft("refdesc"), code("8H7C.", "READ2", "Refer to respiratory physician"), ft("reason")),
        # a diary entry (a recall): planned, never something that happened
        ("<Diary><GUID>D61-FLU-DUE</GUID><AssignedDate>01/10/2026</AssignedDate><DatePart>0</DatePart><AuthorID><RefID>1</RefID></AuthorID>"
         "<DescriptiveText>%s</DescriptiveText><PolicyID>-1</PolicyID>%s<Reminder>%s</Reminder></Diary>") % (
            ft("diarydesc"), code("65E..", "READ2", "Influenza vaccination", 86198006), ft("diary")),
    ]):
        open_ += "<ConsultationElement><GUID>CE61-O-%d</GUID>%s</ConsultationElement>" % (i, el)
    open_ += "</ElementList></Consultation>"
    cons = "<ConsultationList>" + priv + open_ + "</ConsultationList>"
    inv = ("<InvestigationList>"
           # a confidential report: its results are withheld
           "<Investigation><GUID>INV61-PRIVATE</GUID><DisplayTerm>%s</DisplayTerm>%s<DataType>LAB</DataType>"
           "<AssignedDate>20/05/2026</AssignedDate><PolicyID>6</PolicyID><EventList>%s</EventList></Investigation>"
           # an open report with one confidential result: the result drops out of its members
           "<Investigation><GUID>INV61-OPEN</GUID><DisplayTerm>%s</DisplayTerm>%s<DataType>LAB</DataType>"
           "<AssignedDate>21/05/2026</AssignedDate><AuthorID><RefID>-1</RefID></AuthorID><PolicyID>-1</PolicyID><EventList>%s%s</EventList></Investigation>"
           "</InvestigationList>") % (
        ft("labrubric"), code("44G..", "READ2", "Liver function tests", 26958001),
        event("E61-ALT", "20/05/2026", code("44G3.", "READ2", "ALT/SGPT serum level", 1018251000000107), value=num(30, "U/L", 0, 40), policy=NULL),
        ft("labrubric"), code("44I..", "READ2", "Serum electrolytes"),
        event("E61-NA", "21/05/2026", code("44I5.", "READ2", "Serum sodium", 1000661000000107), value=num(140, "mmol/L", 133, 146), policy=NULL),
        event("E61-K", "21/05/2026", code("44I4.", "READ2", "Serum potassium", 1000651000000109), value=num("4.1", "mmol/L", "3.5", "5.3"), policy=4))
    refs = ("<ReferralList><Referral><GUID>R61-PRIVATE</GUID><AssignedDate>22/05/2026</AssignedDate><PolicyID>2</PolicyID>%s"
            "<Provider><RefID>2</RefID></Provider><Urgency>2</Urgency></Referral></ReferralList>") % code("8H44.", "READ2", "Referral to cardiologist", 183519002)
    allergies = ("<AllergyList>"
                 # heading coded, allergen an EMIS drug name with no map
                 "<Allergy><GUID>A61-UNCODED</GUID><AssignedDate>12/03/2019</AssignedDate><DatePart>0</DatePart><AuthorID><RefID>1</RefID></AuthorID>"
                 "<DescriptiveText>%s</DescriptiveText><PolicyID>-1</PolicyID>%s<ProblemLinkList>%s</ProblemLinkList>"
                 "<AllergyType>2</AllergyType><Codes><Value>55501</Value><Scheme>EMISDRUGNAME</Scheme><Term>%s</Term></Codes></Allergy>"
                 # the allergy's own code local, a drug allergen named: a drug allergy under the national heading
                 "<Allergy><GUID>A61-LOCALDRUG</GUID><AssignedDate>13/03/2019</AssignedDate><PolicyID>-1</PolicyID>%s"
                 "<AllergyType>3</AllergyType><Codes><Value>55502</Value><Scheme>EMISCONSTITUENT</Scheme><Term>%s</Term></Codes></Allergy>"
                 # a local non-drug code: not classifiable, never shown as an allergy
                 "<Allergy><GUID>A61-LOCALOTHER</GUID><AssignedDate>14/03/2019</AssignedDate><PolicyID>-1</PolicyID>%s"
                 "<AllergyType>0</AllergyType><Codes><Value>7</Value><Scheme>EMISNONDRUGALLERGY</Scheme><Term>%s</Term></Codes></Allergy>"
                 # coded allergen: kept as the substance
                 "<Allergy><GUID>A61-CODED</GUID><AssignedDate>15/03/2019</AssignedDate><PolicyID>-1</PolicyID>%s"
                 "<AllergyType>2</AllergyType><Codes><Value>55503</Value><Scheme>EMISDRUGNAME</Scheme><Term>%s</Term><MapCode>387207008</MapCode><MapScheme>SNOMED</MapScheme></Codes></Allergy>"
                 # confidential allergy: withheld
                 "<Allergy><GUID>A61-PRIVATE</GUID><AssignedDate>16/03/2019</AssignedDate><PolicyID>8</PolicyID>%s<AllergyType>2</AllergyType></Allergy>"
                 "</AllergyList>") % (
        ft("allergydesc"), code("14L..", "READ2", "H/O: drug allergy", 416098002), nolink, ft("drugname"),
        code("EMISNQDR1", "EMISCLINICAL", ft("localterm")), ft("constituent"),
        code("EMISNQNK2", "EMISCLINICAL", ft("localterm")), ft("nondrug"),
        code("14L..", "READ2", "H/O: drug allergy", 416098002), ft("drugname"),
        code("14L5.", "READ2", "H/O: sulphonamide allergy"))
    ramipril = RAMIPRIL
    meds = "<MedicationList>" + medication(
        "M61-RAMIPRIL", "04/05/2015", ramipril, "one daily", 28, "capsule", "REPEAT", "C", repeats=-1, issued=2,
        duration=-1, extra="<ProblemLinkList>%s</ProblemLinkList><PolicyId>-1</PolicyId>" % nolink) + medication(
        "M61-NOQTY", "05/05/2015", ramipril, "as directed", -1, "capsule", "ACUTE", "P", extra="<PolicyId>-1</PolicyId>") + medication(
        "M61-PRIVATE", "06/05/2015", ramipril, "as directed", 28, "capsule", "ACUTE", "C", extra="<PolicyId>12</PolicyId>") + "</MedicationList>"
    issues = "<IssueList>" + "".join([
        medication("I61-RAM-1", "01/06/2026", ramipril, "one daily", 28, "capsule", "REPEAT", "", tag="Issue", link="M61-RAMIPRIL", extra="<PolicyId>-1</PolicyId>"),
        medication("I61-NULLLINK", "02/06/2026", ramipril, "one daily", 28, "capsule", "REPEAT", "", tag="Issue", link="-1", extra="<PolicyId>-1</PolicyId>"),
        medication("I61-PRIV-ISSUE", "11/05/2026", AMOXICILLIN,
                   "one capsule three times a day", 21, "capsule", "REPEAT", "", tag="Issue", link="M61-PRIV-COURSE", extra="<PolicyId>-1</PolicyId>"),
        medication("I61-OF-PRIVATE", "07/05/2015", ramipril, "as directed", 28, "capsule", "ACUTE", "", tag="Issue", link="M61-PRIVATE", extra="<PolicyId>-1</PolicyId>"),
    ]) + "</IssueList>"
    alerts = ("<AlertList><Alert><GUID>AL61-DNACPR</GUID><AssignedDate>01/01/2026</AssignedDate><DescriptiveText>%s</DescriptiveText>"
              "<PolicyID>-1</PolicyID>%s<Book>-1</Book></Alert></AlertList>") % (ft("alert"), code("1R1..", "READ2", "Not for resuscitation", 304253006))
    diary = ("<DiaryList><Diary><GUID>D61-REVIEW</GUID><AssignedDate>15/01/2027</AssignedDate><DatePart>0</DatePart><PolicyID>-1</PolicyID>%s"
             "<Reminder>%s</Reminder><ReminderType>L</ReminderType><LocationTypeID><RefID>-1</RefID></LocationTypeID></Diary></DiaryList>") % (
        code("66YJ.", "READ2", "Asthma annual review"), ft("diary"))
    reg = registration("9990002061", "Realshape", "Rhona", "11/11/1966", "F", title="Ms").replace(
        "</Registration>", "<PolicyId>-1</PolicyId></Registration>", 1).replace(
        "<RegisteredGpID><RefID>1</RefID></RegisteredGpID>", "<RegisteredGpID><RefID>1</RefID></RegisteredGpID><UsualGpID><RefID>-1</RefID></UsualGpID>", 1)
    # a decoy location with RefID -1: a -1 link must never reach it
    decoy = "<LocationList><Location><RefID>-1</RefID><GUID>-1</GUID><LocationName>%s</LocationName><NationalCode>Z99999</NationalCode></Location>" % ft("locname")
    return doc(reg + "<EventList>" + "".join(ev) + "</EventList>" + cons + inv + refs + allergies + meds + issues
               + "<AttachmentList/>" + diary + alerts + notelist() + tail(created="30/11/2026").replace("<LocationList>", decoy, 1))


if __name__ == "__main__":
    for nhs, fn in [("9990002002", story), ("9990002010", everything), ("9990002029", noconsent),
                    ("9990002037", dissent), ("9990002045", large), ("9990002053", small),
                    ("9990002061", realshapes)]:
        seq[0] = 0
        with open(nhs + ".xml", "w") as f:
            f.write(fn())
