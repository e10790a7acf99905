"""PHI for the DICOM de-identification tests (DEID-09), with pydicom.

`add <file>...`: fills every instance of a generated DICOM WSI slide with
sentinel PHI: patient, study, equipment and specimen attributes, nested
sequences, a private group at the top and one inside a sequence, UTF-16
text in a private OB value, the label text and barcode, dates and times,
a preamble holding a sentinel and trailing padding after Pixel Data.
Sentinels are PHI-SENTINEL-1xx (see deid-dicom.test.ts).

`read <file>...`: prints, per file, what the test checks as JSON: the
de-identification attributes, the UIDs and references, whether private
tags remain, and the SHA-256 of every frame (pydicom's own frame walk).
"""
import hashlib
import json
import sys

import pydicom
from pydicom.dataset import Dataset
from pydicom.encaps import generate_pixel_data_frame
from pydicom.sequence import Sequence


def S(n):
    return 'PHI-SENTINEL-%d' % n


def item(**kw):
    d = Dataset()
    for k, v in kw.items():
        setattr(d, k, v)
    return d


def add(paths):
    first_sop = None
    for i, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        if first_sop is None:
            first_sop = ds.SOPInstanceUID
        ds.preamble = S(120).encode().ljust(128, b'\0')
        ds.file_meta.SourceApplicationEntityTitle = S(121)
        ds.SpecificCharacterSet = 'ISO_IR 192'
        ds.PatientName = S(101) + '^Jane'
        ds.PatientID = S(102)
        ds.PatientBirthDate = '19700412'
        ds.PatientSex = 'F'
        ds.PatientAge = '054Y'
        ds.OtherPatientNames = S(118) + '^J\u00fcrgen'
        ds.AccessionNumber = S(103)
        ds.InstitutionName = S(104) + ' Hospital'
        ds.ReferringPhysicianName = S(105)
        ds.PerformingPhysicianName = S(122)
        ds.OperatorsName = S(106)
        ds.StudyDate = '20240315'
        ds.SeriesDate = '20240315'
        ds.ContentDate = '20240315'
        ds.StudyTime = '101530'
        ds.ContentTime = '101531'
        ds.AcquisitionDateTime = '20240315101530.123456'
        ds.StudyID = S(123)
        ds.StudyDescription = S(124)
        ds.SeriesNumber = 1
        ds.Manufacturer = 'Synthetic Scanners'
        ds.ManufacturerModelName = 'Model 1'
        ds.DeviceSerialNumber = S(107)
        ds.SoftwareVersions = '1.0'
        ds.FrameOfReferenceUID = '1.2.826.0.1.3680043.10.543.77.1'
        ds.PositionReferenceIndicator = 'SLIDE_CORNER'
        ds.ContainerIdentifier = S(108)
        ds.IssuerOfTheContainerIdentifierSequence = Sequence([item(LocalNamespaceEntityID=S(125))])
        ds.ContainerTypeCodeSequence = Sequence([item(CodeValue='433466003', CodingSchemeDesignator='SCT', CodeMeaning='Microscope slide')])
        prep = item(SpecimenPreparationStepContentItemSequence=Sequence([
            item(ValueType='TEXT', TextValue=S(111),
                 ConceptNameCodeSequence=Sequence([item(CodeValue='121041', CodingSchemeDesignator='DCM', CodeMeaning='Specimen Identifier')])),
        ]))
        ds.SpecimenDescriptionSequence = Sequence([item(
            SpecimenIdentifier=S(109),
            SpecimenUID='1.2.826.0.1.3680043.10.543.77.2',
            IssuerOfTheSpecimenIdentifierSequence=Sequence([item(LocalNamespaceEntityID=S(112))]),
            SpecimenShortDescription=S(110),
            SpecimenPreparationSequence=Sequence([prep]),
            PrimaryAnatomicStructureSequence=Sequence([item(CodeValue='76752008', CodingSchemeDesignator='SCT', CodeMeaning='Breast')]),
        )])
        ds.BarcodeValue = S(113)
        ds.LabelText = S(114)
        ds.SpecimenLabelInImage = 'YES' if ds.ImageType[2] in ('LABEL', 'OVERVIEW') else 'NO'
        ds.DimensionOrganizationSequence = Sequence([item(DimensionOrganizationUID='1.2.826.0.1.3680043.10.543.77.3')])
        ds.add_new(0x00090010, 'LO', 'ACME PHI')
        ds.add_new(0x00091001, 'LO', S(115))
        ds.add_new(0x00091002, 'OB', S(116).encode('utf-16le'))
        path_item = ds.OpticalPathSequence[0]
        path_item.add_new(0x00110010, 'LO', 'ACME OPTICS')
        path_item.add_new(0x00111001, 'LO', S(117))
        if i > 0:
            ds.ReferencedImageSequence = Sequence([item(ReferencedSOPClassUID=ds.SOPClassUID, ReferencedSOPInstanceUID=first_sop)])
        ds.DataSetTrailingPadding = S(119).encode().ljust(32, b'\0')
        ds.save_as(path, write_like_original=False)


def frames_of(ds):
    n = int(getattr(ds, 'NumberOfFrames', 1))
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        return [bytes(f) for f in generate_pixel_data_frame(ds.PixelData, n)]
    size = len(ds.PixelData) // n
    return [ds.PixelData[k * size:(k + 1) * size] for k in range(n)]


def has_private(ds):
    for el in ds.iterall():
        if el.tag.is_private:
            return True
    return False


def read(paths):
    out = []
    for path in paths:
        ds = pydicom.dcmread(path)
        codes = [c.CodeValue for c in ds.get('DeidentificationMethodCodeSequence', [])]
        refs = [r.ReferencedSOPInstanceUID for r in ds.get('ReferencedImageSequence', [])]
        spec = ds.SpecimenDescriptionSequence[0] if 'SpecimenDescriptionSequence' in ds else None
        out.append({
            'imageType': list(ds.ImageType),
            'sopInstanceUid': ds.SOPInstanceUID,
            'mediaStorageSopInstanceUid': ds.file_meta.MediaStorageSOPInstanceUID,
            'studyUid': ds.StudyInstanceUID,
            'seriesUid': ds.SeriesInstanceUID,
            'frameOfReferenceUid': ds.get('FrameOfReferenceUID', ''),
            'references': refs,
            'patientName': str(ds.get('PatientName', '')),
            'patientId': ds.get('PatientID', ''),
            'patientBirthDate': ds.get('PatientBirthDate', None),
            'containerIdentifier': ds.get('ContainerIdentifier', ''),
            'specimenIdentifier': spec.SpecimenIdentifier if spec else None,
            'specimenUid': spec.SpecimenUID if spec else None,
            'specimenPreparation': 'SpecimenPreparationSequence' in spec if spec else None,
            'studyDate': ds.get('StudyDate', None),
            'studyTime': ds.get('StudyTime', None),
            'acquisitionDateTime': ds.get('AcquisitionDateTime', None),
            'patientIdentityRemoved': ds.get('PatientIdentityRemoved', None),
            'deidentificationMethod': ds.get('DeidentificationMethod', None),
            'methodCodes': codes,
            'longitudinal': ds.get('LongitudinalTemporalInformationModified', None),
            'barcode': 'BarcodeValue' in ds,
            'labelText': 'LabelText' in ds,
            'private': has_private(ds),
            'frames': [hashlib.sha256(f).hexdigest() for f in frames_of(ds)],
        })
    print(json.dumps(out))


if __name__ == '__main__':
    {'add': add, 'read': read}[sys.argv[1]](sys.argv[2:])
